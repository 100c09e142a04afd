package containerd

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"time"

	containerd "github.com/containerd/containerd/v2/client"
	"github.com/containerd/errdefs"

	"github.com/kybern/kybern/node-agent/runtime"
	"github.com/kybern/kybern/node-agent/stats"
)

// ContainerStats implements runtime.Runtime: each running container's own cgroup, the one
// its OCI spec names, read as stats.Cgroups reads cgroup v1 and v2. A container removed
// or exited, its cgroup gone, between the listing and the reading is left out.
func (r *Runtime) ContainerStats(ctx context.Context) ([]runtime.ContainerStats, error) {
	cgroups := stats.Cgroups{Root: cgroupRoot}
	var out []runtime.ContainerStats
	err := r.each(ctx, allContainers, func(c containerd.Container, rc runtime.Container) error {
		if rc.State != runtime.StateRunning {
			return nil
		}
		path, err := cgroupsPath(ctx, c)
		if errdefs.IsNotFound(err) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("container %s (%s of pod %s/%s): finding its cgroup: %w", rc.ID, rc.Name, rc.Pod.Namespace, rc.Pod.Name, err)
		}
		u, err := cgroups.Read(path)
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("container %s (%s of pod %s/%s): reading cgroup %s: %w", rc.ID, rc.Name, rc.Pod.Namespace, rc.Pod.Name, path, err)
		}
		out = append(out, runtime.ContainerStats{ID: rc.ID, Pod: rc.Pod, Name: rc.Name, StartedAt: rc.StartedAt, Timestamp: time.Now(),
			CPUUsageNanoseconds: u.CPUNanoseconds, MemoryWorkingSetBytes: u.MemoryWorkingSetBytes})
		return nil
	})
	return out, err
}
