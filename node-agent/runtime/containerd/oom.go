package containerd

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	apievents "github.com/containerd/containerd/api/events"
	"github.com/containerd/containerd/v2/pkg/oci"
	"github.com/containerd/typeurl/v2"
	"github.com/go-logr/logr"
)

// labelOOMKilled marks a container the kernel killed for lack of memory; it survives an
// agent restart, unlike the event that reported it.
const labelOOMKilled = "io.kybern.container.oom-killed"

// WatchOOM labels the containers that containerd reports killed by the OOM killer, until
// ctx ends, so that their exit reads OOMKilled.
func (r *Runtime) WatchOOM(ctx context.Context, log logr.Logger) {
	for ctx.Err() == nil {
		events, errs := r.client.Subscribe(ctx, fmt.Sprintf(`topic=="/tasks/oom",namespace==%q`, r.namespace))
	watch:
		for {
			select {
			case <-ctx.Done():
				return
			case err := <-errs:
				if ctx.Err() == nil {
					log.Error(err, "Watching containerd's OOM events; subscribing again")
				}
				break watch
			case e := <-events:
				ev, err := typeurl.UnmarshalAny(e.Event)
				if err != nil {
					log.Error(err, "Reading a containerd event", "topic", e.Topic)
					continue
				}
				if oom, ok := ev.(*apievents.TaskOOM); ok {
					r.markOOM(ctx, log, oom.ContainerID)
				}
			}
		}
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
}

func (r *Runtime) markOOM(ctx context.Context, log logr.Logger, id string) {
	c, err := r.client.LoadContainer(ctx, id)
	if err == nil {
		_, err = c.SetLabels(ctx, map[string]string{labelOOMKilled: "true"})
	}
	if err != nil {
		log.Error(err, "Marking a container OOM-killed", "container", id)
	}
}

// cgroupRoot is where the host mounts its cgroups.
const cgroupRoot = "/sys/fs/cgroup"

// killedForMemory reads from c's own cgroup whether the kernel's OOM killer killed a
// process in it: memory.events on cgroup v2, memory.oom_control on v1. The cgroup stays
// until the task is deleted, so this holds when the TaskOOM event comes after the exit,
// or while the agent was not subscribed.
func killedForMemory(ctx context.Context, c specReader) bool {
	path, err := cgroupsPath(ctx, c)
	if err != nil {
		return false
	}
	// The agent wrote this spec; the path is still kept beneath the cgroup root.
	rel := filepath.Clean("/" + path)
	for _, f := range []string{filepath.Join(cgroupRoot, rel, "memory.events"), filepath.Join(cgroupRoot, "memory", rel, "memory.oom_control")} {
		if data, err := os.ReadFile(f); err == nil {
			return oomKills(string(data)) > 0
		}
	}
	return false
}

// specReader is a container whose OCI spec can be read.
type specReader interface {
	Spec(context.Context) (*oci.Spec, error)
}

// cgroupsPath is the cgroup c's OCI spec puts it in, relative to the cgroup hierarchy:
// containerd's default, /<namespace>/<id>, as the agent sets none of its own. Callers keep
// it beneath the cgroup root.
func cgroupsPath(ctx context.Context, c specReader) (string, error) {
	spec, err := c.Spec(ctx)
	if err != nil {
		return "", err
	}
	if spec.Linux == nil || spec.Linux.CgroupsPath == "" {
		return "", errors.New("its OCI spec has no linux.cgroupsPath")
	}
	return spec.Linux.CgroupsPath, nil
}

// oomKills is the oom_kill count of a memory.events or memory.oom_control file.
func oomKills(content string) int {
	for _, line := range strings.Split(content, "\n") {
		if v, ok := strings.CutPrefix(line, "oom_kill "); ok {
			n, _ := strconv.Atoi(strings.TrimSpace(v))
			return n
		}
	}
	return 0
}
