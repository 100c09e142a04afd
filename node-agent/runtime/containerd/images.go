package containerd

import (
	"context"
	"errors"
	"fmt"

	containerd "github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/core/images"
	"github.com/containerd/errdefs"

	"github.com/kybern/kybern/node-agent/imagegc"
)

var _ imagegc.Runtime = (*Runtime)(nil)

// ListImages implements imagegc.Runtime: the images of the agent's containerd namespace
// by content (target digest), which is what a container's ImageID names. An image is
// pinned when one of its names was imported from the image directory, as the node's only
// copy of an image no registry may serve (upstream's pinned images). Its size is what its
// content takes in containerd's store, 0 when that content is missing.
func (r *Runtime) ListImages(ctx context.Context) ([]imagegc.Image, error) {
	imgs, err := r.client.ImageService().List(ctx)
	if err != nil {
		return nil, fmt.Errorf("listing images: %w", err)
	}
	r.mu.Lock()
	pinned := make(map[string]bool, len(r.preloaded))
	for name := range r.preloaded {
		pinned[name] = true
	}
	r.mu.Unlock()
	byID := map[string]*imagegc.Image{}
	var out []*imagegc.Image
	for _, img := range imgs {
		id := img.Target.Digest.String()
		gc, ok := byID[id]
		if !ok {
			size, err := containerd.NewImage(r.client, img).Size(ctx)
			if err != nil && !errdefs.IsNotFound(err) {
				return nil, fmt.Errorf("sizing image %s: %w", img.Name, err)
			}
			gc = &imagegc.Image{ID: id, Size: size}
			byID[id] = gc
			out = append(out, gc)
		}
		gc.Pinned = gc.Pinned || pinned[img.Name]
	}
	list := make([]imagegc.Image, len(out))
	for i, img := range out {
		list[i] = *img
	}
	return list, nil
}

// RemoveImage implements imagegc.Runtime: it deletes every name whose content is id,
// each synchronously, so that the space is free when it returns. None left is no error.
func (r *Runtime) RemoveImage(ctx context.Context, id string) error {
	imgs, err := r.client.ImageService().List(ctx)
	if err != nil {
		return fmt.Errorf("listing images: %w", err)
	}
	var errs []error
	for _, img := range imgs {
		if img.Target.Digest.String() != id {
			continue
		}
		if err := r.client.ImageService().Delete(ctx, img.Name, images.SynchronousDelete()); err != nil && !errdefs.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("deleting image %s: %w", img.Name, err))
		}
	}
	return errors.Join(errs...)
}
