package podworker

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
	"github.com/kybern/kybern/node-agent/events"
	"github.com/kybern/kybern/node-agent/runtime"
	"github.com/kybern/kybern/node-agent/volume"
)

// volumeRefresh is how often the files of configMap, secret, downwardAPI and projected
// volumes catch up with their sources.
const volumeRefresh = 10 * time.Second

// VolumeManager prepares the volumes of the node's pods as host paths.
type VolumeManager interface {
	// Setup makes every volume of pod ready, refreshing projected files, and returns
	// each one's host path by name.
	Setup(ctx context.Context, pod *corev1alpha1.Pod) (map[string]string, error)
	// SubPath is the host path to mount for a subPath of a volume Setup returned, resolved
	// inside that volume so that no symlink leads the mount out of it.
	SubPath(sp volume.SubPathMount) (string, error)
	// TearDown removes what Setup and SubPath made for the pod with uid.
	TearDown(uid types.UID) error
}

// setupVolumes prepares the pod's volumes before its first container starts and refreshes
// projected files every volumeRefresh after. It is the error while the volumes could never
// be set up: every container then waits, saying why.
func (w *Worker) setupVolumes(ctx context.Context, pod *corev1alpha1.Pod) error {
	if len(pod.Spec.Volumes) == 0 {
		return nil
	}
	if w.volumes != nil && (!volume.Refreshes(pod) || w.env.Clock.Since(w.volumesAt) < volumeRefresh) {
		return nil
	}
	paths, err := w.env.Volumes.Setup(ctx, pod)
	w.volumesAt = w.env.Clock.Now()
	if err != nil && w.volumes != nil {
		// Running containers keep the files they have, as upstream's.
		w.log.Error(err, "Refreshing volumes")
		return nil
	}
	if err != nil {
		w.podEvent(pod, corev1.EventTypeWarning, events.FailedMount, "%v", err)
	}
	for _, c := range append(append([]corev1.Container{}, pod.Spec.InitContainers...), pod.Spec.Containers...) {
		if err != nil {
			w.waiting[c.Name] = reason{ReasonContainerCreating, err.Error()}
		} else if w.waiting[c.Name].reason == ReasonContainerCreating {
			delete(w.waiting, c.Name)
		}
	}
	if err != nil {
		return err
	}
	w.volumes = paths
	return nil
}

// mounts binds c's volumeMounts to the volumes' host paths. ConfigMap, Secret, downward
// API and projected volumes are always read-only, as upstream mounts them.
func (w *Worker) mounts(pod *corev1alpha1.Pod, c *corev1.Container) ([]runtime.Mount, error) {
	sources := map[string]*corev1.Volume{}
	for i := range pod.Spec.Volumes {
		sources[pod.Spec.Volumes[i].Name] = &pod.Spec.Volumes[i]
	}
	out := make([]runtime.Mount, 0, len(c.VolumeMounts))
	for i, vm := range c.VolumeMounts {
		path, ok := w.volumes[vm.Name]
		if !ok {
			return nil, fmt.Errorf("volumeMount %s of container %s names no volume of the pod: add it to spec.volumes", vm.Name, c.Name)
		}
		v := sources[vm.Name]
		readOnly := vm.ReadOnly || v.ConfigMap != nil || v.Secret != nil || v.DownwardAPI != nil || v.Projected != nil ||
			(v.PersistentVolumeClaim != nil && v.PersistentVolumeClaim.ReadOnly)
		if vm.SubPathExpr != "" {
			return nil, fmt.Errorf("volumeMount %s of container %s: subPathExpr is not supported by kybern's node agent yet: use subPath", vm.Name, c.Name)
		}
		if vm.SubPath != "" {
			if err := checkSubPath("subPath", vm.SubPath); err != nil {
				return nil, fmt.Errorf("volumeMount %s of container %s: %w", vm.Name, c.Name, err)
			}
			sub, err := w.env.Volumes.SubPath(volume.SubPathMount{Pod: pod.UID, Name: vm.Name, Volume: path, SubPath: vm.SubPath,
				Container: c.Name, Index: i, Create: v.EmptyDir != nil || v.HostPath != nil || v.PersistentVolumeClaim != nil})
			if err != nil {
				return nil, fmt.Errorf("volumeMount %s of container %s: %w", vm.Name, c.Name, err)
			}
			path = sub
		}
		out = append(out, runtime.Mount{Source: path, Destination: vm.MountPath, ReadOnly: readOnly})
	}
	resolv, err := w.resolvConfMount(pod)
	return append(out, resolv...), err
}
