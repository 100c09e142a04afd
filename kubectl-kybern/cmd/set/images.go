package set

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/kybern/kybern/kubectl-kybern/cmd/cli"
)

// imageKinds are the kinds whose images set image changes.
var imageKinds = []*cli.Kind{cli.Deployment, cli.StatefulSet, cli.DaemonSet, cli.ReplicaSet, cli.Pod, cli.Job, cli.CronJob}

// podSpecPath is where the pod spec of k's objects is, false for a kind without one.
func podSpecPath(k *cli.Kind) ([]string, bool) {
	switch k {
	case cli.Pod:
		return []string{"spec"}, true
	case cli.CronJob:
		return []string{"spec", "jobTemplate", "spec", "template", "spec"}, true
	case cli.Deployment, cli.StatefulSet, cli.DaemonSet, cli.ReplicaSet, cli.Job:
		return []string{"spec", "template", "spec"}, true
	}
	return nil, false
}

// setImages gives the containers and init containers of obj named in images (the name
// "*" stands for all of them) their new image, in obj itself. It returns the JSON patch
// that makes the same change on the server, nil when no image changed, and the names in
// images that match no container. Each replaced image is guarded by a test of its
// container's name, so the patch fails rather than change another container should the
// list have changed since obj was read.
func setImages(k *cli.Kind, obj *unstructured.Unstructured, images map[string]string) ([]byte, []string, error) {
	path, ok := podSpecPath(k)
	if !ok {
		return nil, nil, fmt.Errorf("the object is not a pod or does not have a pod template: %s", k.GVK.Kind)
	}
	spec, _, err := unstructured.NestedMap(obj.Object, path...)
	if err != nil {
		return nil, nil, fmt.Errorf("reading %s: %w", strings.Join(path, "."), err)
	}
	var ops []map[string]any
	found := map[string]bool{}
	for _, field := range []string{"initContainers", "containers"} {
		containers, _, err := unstructured.NestedSlice(spec, field)
		if err != nil {
			return nil, nil, fmt.Errorf("reading %s.%s: %w", strings.Join(path, "."), field, err)
		}
		for i, c := range containers {
			container, ok := c.(map[string]any)
			if !ok {
				continue
			}
			name, _ := container["name"].(string)
			image, ok := images[name]
			if !ok {
				image, ok = images["*"]
			}
			if !ok {
				continue
			}
			found[name] = true
			if container["image"] == image {
				continue
			}
			container["image"] = image
			at := "/" + strings.Join(append(slices.Clone(path), field, strconv.Itoa(i)), "/")
			ops = append(ops,
				map[string]any{"op": "test", "path": at + "/name", "value": name},
				map[string]any{"op": "add", "path": at + "/image", "value": image})
		}
		if len(containers) == 0 {
			continue
		}
		if err := unstructured.SetNestedSlice(spec, containers, field); err != nil {
			return nil, nil, err
		}
	}
	if err := unstructured.SetNestedMap(obj.Object, spec, path...); err != nil {
		return nil, nil, err
	}
	var missing []string
	for name := range images {
		if (name == "*" && len(found) == 0) || (name != "*" && !found[name]) {
			missing = append(missing, name)
		}
	}
	slices.Sort(missing)
	if len(ops) == 0 {
		return nil, missing, nil
	}
	patch, err := json.Marshal(ops)
	return patch, missing, err
}
