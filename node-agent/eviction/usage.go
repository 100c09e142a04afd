package eviction

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
	"github.com/kybern/kybern/node-agent/podworker"
	"github.com/kybern/kybern/node-agent/runtime"
)

// UsageMeasurer measures what pods use; a fake stands in for the host in tests.
type UsageMeasurer interface {
	Usage(ctx context.Context, pods []*corev1alpha1.Pod) (map[types.UID]PodUsage, error)
}

// HostUsage measures pods on this machine: memory from the runtime's container stats,
// disk by walking each disk-backed emptyDir (PodDir/<uid>/volumes/<name>) and each
// container's log directory, counting allocated blocks as du does. The walk stays on the
// volume's filesystem and follows no symlink, so a pod's bind mounts and links are not
// counted.
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
			bytes, inodes := du(filepath.Join(h.PodDir, string(pod.UID), "volumes", v.Name))
			u.EmptyDirs[v.Name], u.Inodes = bytes, u.Inodes+inodes
		}
		logs := podworker.PodLogDir(h.LogDir, runtime.PodRef{UID: pod.UID, Namespace: pod.Namespace, Name: pod.Name})
		for _, c := range pod.Spec.Containers {
			if !safeName(c.Name) {
				continue
			}
			bytes, inodes := du(filepath.Join(logs, c.Name))
			u.Logs[c.Name], u.Inodes = bytes, u.Inodes+inodes
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

// du is the bytes allocated to, and the inodes of, the files under dir on dir's
// filesystem; zero when dir does not exist. Files that vanish while it walks are skipped.
func du(dir string) (bytes, inodes int64) {
	var root syscall.Stat_t
	if err := syscall.Lstat(dir, &root); err != nil {
		return 0, 0
	}
	_ = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return nil
			}
			return fs.SkipDir
		}
		var st syscall.Stat_t
		if syscall.Lstat(path, &st) != nil {
			return nil
		}
		if st.Dev != root.Dev {
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		bytes += st.Blocks * 512
		inodes++
		return nil
	})
	return bytes, inodes
}
