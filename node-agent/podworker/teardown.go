package podworker

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
	"github.com/kybern/kybern/node-agent/runtime"
)

// stopAll stops every running container of the pod within its grace period; none when
// the pod object is already gone.
func (w *Worker) stopAll(ctx context.Context, pod *corev1alpha1.Pod, gone bool) error {
	w.probes.Stop()
	grace := time.Duration(0)
	if !gone && pod.Spec.TerminationGracePeriodSeconds != nil {
		grace = time.Duration(*pod.Spec.TerminationGracePeriodSeconds) * time.Second
	}
	grace = w.stopGrace(grace)
	containers, err := w.containers(ctx)
	if err != nil {
		return err
	}
	started := w.env.Clock.Now()
	var wg sync.WaitGroup
	errs := make([]error, 0)
	var mu sync.Mutex
	for _, instances := range containers {
		for _, c := range instances {
			if spec := containerSpec(pod, c.Name); c.State == runtime.StateExited || (spec != nil && isSidecar(spec)) {
				continue
			}
			wg.Go(func() {
				if err := w.stopping(ctx, pod, containerSpec(pod, c.Name), c.ID, grace); err != nil {
					mu.Lock()
					errs = append(errs, fmt.Errorf("stopping container %s: %w", c.Name, err))
					mu.Unlock()
				}
			})
		}
	}
	wg.Wait()
	// Sidecars outlive the main containers, and stop last, within what is left of grace.
	w.stopSidecars(ctx, pod, containers, max(grace-w.env.Clock.Since(started), 0))
	return errors.Join(errs...)
}

// cleanUp removes the pod's containers, sandbox and logs, then releases the pod object.
func (w *Worker) cleanUp(ctx context.Context, pod *corev1alpha1.Pod, gone bool) error {
	containers, err := w.containers(ctx)
	if err != nil {
		return err
	}
	for _, instances := range containers {
		for _, c := range instances {
			if err := w.env.Runtime.RemoveContainer(ctx, c.ID); err != nil {
				return fmt.Errorf("removing container %s: %w", c.Name, err)
			}
		}
	}
	if err := w.env.Runtime.StopSandbox(ctx, podRef(pod)); err != nil {
		return fmt.Errorf("removing the sandbox: %w", err)
	}
	if err := w.env.Volumes.TearDown(pod.UID); err != nil {
		return fmt.Errorf("removing the pod's volumes: %w", err)
	}
	if err := os.RemoveAll(PodLogDir(w.env.LogDir, podRef(pod))); err != nil {
		return fmt.Errorf("removing the pod's logs: %w", err)
	}
	if gone || !controllerutil.ContainsFinalizer(pod, corev1alpha1.NodeAgentFinalizer) {
		return nil
	}
	return w.releasePod(ctx, pod)
}
