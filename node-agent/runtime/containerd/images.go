package containerd

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/containerd/containerd/v2/core/images"
	"github.com/containerd/errdefs"
)

// minimumImageAge is how old an image must be before it may be deleted as unused,
// upstream's --minimum-image-ttl-duration default: an image just pulled for a container
// about to be made is in use before the container exists.
const minimumImageAge = 2 * time.Minute

// DeleteUnusedImages deletes, from the agent's containerd namespace, every image no
// container of the namespace (running or not) uses, as upstream's image garbage
// collection under disk pressure; images imported from the image directory stay, as the
// node's only copies of images no registry may serve (upstream's pinned images), and so do
// images younger than minimumImageAge. Each deletion is synchronous, so that the space is
// free when it returns.
func (r *Runtime) DeleteUnusedImages(ctx context.Context) error {
	imgs, err := r.client.ImageService().List(ctx)
	if err != nil {
		return fmt.Errorf("listing images: %w", err)
	}
	cs, err := r.client.Containers(ctx)
	if err != nil {
		return fmt.Errorf("listing containers: %w", err)
	}
	var used []string
	for _, c := range cs {
		info, err := c.Info(ctx)
		if err != nil {
			if errdefs.IsNotFound(err) {
				continue
			}
			return fmt.Errorf("container %s: %w", c.ID(), err)
		}
		used = append(used, info.Image)
	}
	r.mu.Lock()
	pinned := make(map[string]bool, len(r.preloaded))
	for name := range r.preloaded {
		pinned[name] = true
	}
	r.mu.Unlock()
	var errs []error
	for _, name := range unusedImages(imgs, used, pinned, time.Now().Add(-r.imageMinAge)) {
		if err := r.client.ImageService().Delete(ctx, name, images.SynchronousDelete()); err != nil && !errdefs.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("deleting image %s: %w", name, err))
		}
	}
	return errors.Join(errs...)
}

// unusedImages are the names of imgs that may be deleted: those whose content (target
// digest) no container's image (usedNames) has, that are not pinned and were made no later
// than madeBy. An image one name of which is used or pinned keeps every name.
func unusedImages(imgs []images.Image, usedNames []string, pinned map[string]bool, madeBy time.Time) []string {
	byName := map[string]string{}
	for _, img := range imgs {
		byName[img.Name] = img.Target.Digest.String()
	}
	keep := map[string]bool{}
	for _, name := range usedNames {
		if d, ok := byName[name]; ok {
			keep[d] = true
		}
	}
	for name := range pinned {
		if d, ok := byName[name]; ok {
			keep[d] = true
		}
	}
	var out []string
	for _, img := range imgs {
		if !keep[img.Target.Digest.String()] && !img.CreatedAt.After(madeBy) {
			out = append(out, img.Name)
		}
	}
	return out
}
