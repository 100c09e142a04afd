package podworker

import (
	"context"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"

	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
	"github.com/kybern/kybern/node-agent/events"
	"github.com/kybern/kybern/node-agent/prober"
)

// postStartTimeout bounds a postStart hook, which upstream leaves unbounded: a hook that
// hangs would otherwise hold the pod's worker for good.
const postStartTimeout = 2 * time.Minute

// runHook runs a postStart or preStop handler against the container instance id within
// timeout. Its error says which hook failed and why, in upstream's words.
func (w *Worker) runHook(ctx context.Context, pod *corev1alpha1.Pod, c *corev1.Container, id string, h *corev1.LifecycleHandler, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	switch {
	case h.Exec != nil:
		res, err := w.env.Runtime.ExecSync(ctx, id, h.Exec.Command, timeout)
		switch {
		case err != nil:
			return hookError("Exec", h.Exec.Command, c, pod, err.Error())
		case res.TimedOut:
			return hookError("Exec", h.Exec.Command, c, pod, "command timed out")
		case res.ExitCode != 0:
			return hookError("Exec", h.Exec.Command, c, pod, fmt.Sprintf("command exited with %d: %s", res.ExitCode, strings.TrimSpace(res.Output)))
		}
	case h.HTTPGet != nil:
		probe := &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: h.HTTPGet}, TimeoutSeconds: int32(max(timeout/time.Second, 1))}
		if ok, message, _ := prober.Run(ctx, w.env.Runtime, podRef(pod), id, c, probe); !ok {
			return hookError("HTTP", []string{h.HTTPGet.Path}, c, pod, message)
		}
	case h.Sleep != nil:
		timer := w.env.Clock.NewTimer(time.Duration(h.Sleep.Seconds) * time.Second)
		defer timer.Stop()
		select {
		case <-ctx.Done():
		case <-timer.C():
		}
	}
	return nil
}

func hookError(kind string, what []string, c *corev1.Container, pod *corev1alpha1.Pod, message string) error {
	return fmt.Errorf("%s lifecycle hook (%s) for Container %q in Pod %q failed - error: %s", kind, strings.Join(what, " "), c.Name,
		fmt.Sprintf("%s_%s(%s)", pod.Name, pod.Namespace, pod.UID), message)
}

// stopInstance stops one running instance of c within grace: its preStop hook first, if
// it has one, then SIGTERM with what is left of grace, then SIGKILL.
func (w *Worker) stopInstance(ctx context.Context, pod *corev1alpha1.Pod, c *corev1.Container, id string, grace time.Duration) error {
	if c != nil && c.Lifecycle != nil && c.Lifecycle.PreStop != nil && grace > 0 {
		started := w.env.Clock.Now()
		if err := w.runHook(ctx, pod, c, id, c.Lifecycle.PreStop, grace); err != nil {
			w.log.Info("PreStop hook failed", "container", c.Name, "error", err.Error())
			// As upstream, without the hook's output, which may hold secrets.
			w.containerEvent(pod, c, corev1.EventTypeWarning, events.FailedPreStopHook, "PreStopHook failed")
		}
		// As upstream: the container gets at least 2 s after its hook to handle SIGTERM.
		grace = max(grace-w.env.Clock.Since(started), 2*time.Second)
	}
	return w.env.Runtime.StopContainer(ctx, id, grace)
}

// stopping stops an instance of c, which the pod's end or a finished pod stops, saying so
// in a Killing event as the kubelet's; c is nil for a container the spec does not name.
func (w *Worker) stopping(ctx context.Context, pod *corev1alpha1.Pod, c *corev1.Container, id string, grace time.Duration) error {
	if c != nil {
		w.containerEvent(pod, c, corev1.EventTypeNormal, events.Killing, "Stopping container %s", c.Name)
	}
	return w.stopInstance(ctx, pod, c, id, grace)
}

// containerSpec finds the container or init container named name in pod's spec.
func containerSpec(pod *corev1alpha1.Pod, name string) *corev1.Container {
	for _, list := range [][]corev1.Container{pod.Spec.Containers, pod.Spec.InitContainers} {
		for i := range list {
			if list[i].Name == name {
				return &list[i]
			}
		}
	}
	return nil
}
