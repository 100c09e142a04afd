package podworker

import (
	"context"
	"time"

	corev1 "k8s.io/api/core/v1"

	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
	"github.com/kybern/kybern/node-agent/runtime"
)

// isSidecar says whether c is a native sidecar: an init container with restartPolicy
// Always, which starts in init order, then runs beside the main containers.
func isSidecar(c *corev1.Container) bool {
	return c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways
}

// runSidecars keeps the pod's sidecars running once it is initialized: an exited one
// restarts whatever the pod's restartPolicy, after its back-off, and one whose liveness
// probe failed is killed. Once the main containers have finished for good, the sidecars
// are stopped, last one first, as upstream's kubelet does.
func (w *Worker) runSidecars(ctx context.Context, pod *corev1alpha1.Pod, containers map[string][]runtime.Container, mainFinished bool) time.Duration {
	if mainFinished {
		w.stopSidecars(ctx, pod, containers, gracePeriod(pod))
		return 0
	}
	var retry time.Duration
	for i := range pod.Spec.InitContainers {
		c := &pod.Spec.InitContainers[i]
		instances := containers[c.Name]
		if !isSidecar(c) || len(instances) == 0 {
			continue
		}
		latest := instances[0]
		wait := time.Duration(0)
		if why, failed := w.probes.Failed(latest.ID); failed && latest.State == runtime.StateRunning {
			wait = w.kill(ctx, pod, c, latest, why)
		} else if latest.State == runtime.StateExited {
			wait = w.restart(ctx, pod, c, latest)
		}
		if wait > 0 && (retry == 0 || wait < retry) {
			retry = wait
		}
	}
	return retry
}

// stopSidecars stops the running sidecars in reverse order within grace, shared among
// them.
func (w *Worker) stopSidecars(ctx context.Context, pod *corev1alpha1.Pod, containers map[string][]runtime.Container, grace time.Duration) {
	deadline := w.env.Clock.Now().Add(grace)
	for i := len(pod.Spec.InitContainers) - 1; i >= 0; i-- {
		c := &pod.Spec.InitContainers[i]
		instances := containers[c.Name]
		if !isSidecar(c) || len(instances) == 0 || instances[0].State == runtime.StateExited {
			continue
		}
		if err := w.stopping(ctx, pod, c, instances[0].ID, max(deadline.Sub(w.env.Clock.Now()), 0)); err != nil {
			w.log.Error(err, "Stopping sidecar", "container", c.Name)
		}
	}
}
