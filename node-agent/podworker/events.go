package podworker

import (
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"

	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
	"github.com/kybern/kybern/node-agent/events"
	"github.com/kybern/kybern/node-agent/prober"
	"github.com/kybern/kybern/node-agent/runtime"
)

// podEvent records an event about pod, in the kubelet's words; none without a recorder.
func (w *Worker) podEvent(pod *corev1alpha1.Pod, eventType, reason, format string, args ...any) {
	if w.env.Recorder != nil {
		w.env.Recorder.Eventf(events.PodRef(pod), eventType, reason, format, args...)
	}
}

// containerEvent records an event about container c of pod, with c's field path as the
// kubelet's.
func (w *Worker) containerEvent(pod *corev1alpha1.Pod, c *corev1.Container, eventType, reason, format string, args ...any) {
	if w.env.Recorder != nil {
		w.env.Recorder.Eventf(events.ContainerRef(pod, c.Name), eventType, reason, format, args...)
	}
}

// pulledEvent records, as the kubelet's image manager, that c's image is there: pulled
// now when pull is set, else found present.
func (w *Worker) pulledEvent(pod *corev1alpha1.Pod, c *corev1.Container, pull *runtime.Pull) {
	if pull == nil {
		w.containerEvent(pod, c, corev1.EventTypeNormal, events.Pulled, "Container image %q already present on machine", c.Image)
		return
	}
	w.containerEvent(pod, c, corev1.EventTypeNormal, events.Pulled, "Successfully pulled image %q in %s. Image size: %d bytes.",
		c.Image, pull.Duration.Round(time.Millisecond), pull.Size)
}

// imageFailedEvents records what the kubelet's image manager and container start say of c's
// image that could not be made present, then Failed with the waiting reason. The
// Pulling event of a failed pull was recorded as it started.
func (w *Worker) imageFailedEvents(pod *corev1alpha1.Pod, c *corev1.Container, err error, waiting reason) {
	var pull *runtime.ImagePullError
	switch {
	case errors.Is(err, runtime.ErrImageNeverPull):
		w.containerEvent(pod, c, corev1.EventTypeWarning, events.ErrImageNeverPull, "Container image %q is not present with pull policy of Never", c.Image)
	case waiting.reason == ReasonImagePullBackOff:
		w.containerEvent(pod, c, corev1.EventTypeNormal, events.BackOff, "Back-off pulling image %q", c.Image)
	case errors.As(err, &pull):
		w.containerEvent(pod, c, corev1.EventTypeWarning, events.Failed, "Failed to pull image %q: %s", c.Image, pull.Message)
	default:
		w.containerEvent(pod, c, corev1.EventTypeWarning, events.InspectFailed, "Failed to inspect image %q: %v", c.Image, err)
	}
	w.containerEvent(pod, c, corev1.EventTypeWarning, events.Failed, "Error: %s", waiting.reason)
}

// unhealthy records a failed probe run of container c, as the kubelet's prober does at
// every failure, before any threshold; one the runtime could not run "errored".
func (w *Worker) unhealthy(c *corev1.Container, kind prober.Kind, output string, errored bool) {
	pod, _ := w.snapshot()
	verb := "failed"
	if errored {
		verb = "errored"
	}
	w.containerEvent(pod, c, corev1.EventTypeWarning, events.Unhealthy, "%s probe %s: %s", kind, verb, output)
}

// panicEvent reports a sync that panicked on the pod, without the stack, which the log has.
func (w *Worker) panicEvent(recovered any) {
	pod, _ := w.snapshot()
	w.podEvent(pod, corev1.EventTypeWarning, events.FailedSync, "Error syncing pod: the node agent panicked: %s", fmt.Sprint(recovered))
}
