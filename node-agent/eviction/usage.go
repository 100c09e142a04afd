package eviction

import (
	"context"
	"path/filepath"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
	"github.com/kybern/kybern/node-agent/diskusage"
	"github.com/kybern/kybern/node-agent/podworker"
	"github.com/kybern/kybern/node-agent/runtime"
)

// UsageMeasurer measures what pods use; a fake stands in for the host in tests.
type UsageMeasurer interface {
	Usage(ctx context.Context, pods []*corev1alpha1.Pod) (map[types.UID]PodUsage, error)
}

// HostUsage measures pods on this machine: memory from the runtime's container stats,
// disk by walking each disk-backed emptyDir (PodDir/<uid>/volumes/<name>) and each
// container's log directory (rotated files included) with diskusage.Of, which counts
// allocated blocks as du does and neither a pod's bind mounts nor its links.
type HostUsage struct {
	Runtime        runtime.Runtime
	PodDir, LogDir string
}

// Usage implements UsageMeasurer.
func (h HostUsage) Usage(ctx context.Context, pods []*corev1alpha1.Pod) (map[types.UID]PodUsage, error) {
	stats, err := h.Runtime.ContainerStats(ctx)
	if err != nil {
		return nil, err
	}
	out := map[types.UID]PodUsage{}
	for _, pod := range pods {
		u := PodUsage{ContainerMemory: map[string]int64{}, EmptyDirs: map[string]int64{}, Logs: map[string]int64{}}
		for _, v := range pod.Spec.Volumes {
			if v.EmptyDir == nil || v.EmptyDir.Medium == corev1.StorageMediumMemory || !safeName(v.Name) {
				continue
			}
			d := diskusage.Of(filepath.Join(h.PodDir, string(pod.UID), "volumes", v.Name))
			u.EmptyDirs[v.Name], u.Inodes = d.Bytes, u.Inodes+d.Inodes
		}
		logs := podworker.PodLogDir(h.LogDir, runtime.PodRef{UID: pod.UID, Namespace: pod.Namespace, Name: pod.Name})
		for _, c := range pod.Spec.Containers {
			if !safeName(c.Name) {
				continue
			}
			d := diskusage.Of(filepath.Join(logs, c.Name))
			u.Logs[c.Name], u.Inodes = d.Bytes, u.Inodes+d.Inodes
		}
		out[pod.UID] = u
	}
	for _, s := range stats {
		u, ok := out[s.Pod.UID]
		if !ok {
			continue
		}
		u.ContainerMemory[s.Name] += int64(s.MemoryWorkingSetBytes)
		u.Memory += int64(s.MemoryWorkingSetBytes)
		out[s.Pod.UID] = u
	}
	return out, nil
}

// safeName is a volume or container name that is one path element.
func safeName(name string) bool {
	return name != "" && name != "." && name != ".." && filepath.Base(name) == name
}
