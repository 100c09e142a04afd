package containerd

import (
	"context"
	"fmt"
	"time"

	apievents "github.com/containerd/containerd/api/events"
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
