package podworker

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
)

// holdPod adds the finalizer before anything of the pod runs.
func (w *Worker) holdPod(ctx context.Context, pod *corev1alpha1.Pod) error {
	held, err := w.patchFinalizer(ctx, pod, func(p *corev1alpha1.Pod) { controllerutil.AddFinalizer(p, corev1alpha1.NodeAgentFinalizer) })
	if err != nil {
		return fmt.Errorf("adding finalizer %s: %w", corev1alpha1.NodeAgentFinalizer, err)
	}
	if held == nil {
		return fmt.Errorf("adding finalizer %s: pod %s/%s (uid %s) is gone", corev1alpha1.NodeAgentFinalizer, pod.Namespace, pod.Name, pod.UID)
	}
	w.mu.Lock()
	if w.pod == pod {
		w.pod = held
	}
	w.mu.Unlock()
	return nil
}

// releasePod removes the finalizer, letting the deletion finish. A pod already gone is
// released.
func (w *Worker) releasePod(ctx context.Context, pod *corev1alpha1.Pod) error {
	if _, err := w.patchFinalizer(ctx, pod, func(p *corev1alpha1.Pod) { controllerutil.RemoveFinalizer(p, corev1alpha1.NodeAgentFinalizer) }); err != nil {
		return fmt.Errorf("removing finalizer %s: %w", corev1alpha1.NodeAgentFinalizer, err)
	}
	return nil
}

// patchFinalizer applies change to pod's finalizers with an optimistic lock. A conflict
// means the pod changed since it was read: it is read again and the patch retried at once.
// It returns the patched pod, or nil once the pod is gone: deleted, or replaced by a pod
// of the same name and another UID, which is not this worker's to change.
func (w *Worker) patchFinalizer(ctx context.Context, pod *corev1alpha1.Pod, change func(*corev1alpha1.Pod)) (*corev1alpha1.Pod, error) {
	current := pod
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		patched := current.DeepCopy()
		change(patched)
		err := w.env.Client.Patch(ctx, patched, client.MergeFromWithOptions(current, client.MergeFromWithOptimisticLock{}))
		switch {
		case err == nil:
			current = patched
			return nil
		case apierrors.IsNotFound(err):
			current = nil
			return nil
		case !apierrors.IsConflict(err):
			return err
		}
		fresh := &corev1alpha1.Pod{}
		if getErr := w.env.Client.Get(ctx, client.ObjectKeyFromObject(pod), fresh); getErr != nil {
			if apierrors.IsNotFound(getErr) {
				current = nil
				return nil
			}
			return getErr
		}
		if fresh.UID != pod.UID {
			current = nil
			return nil
		}
		current = fresh
		return err
	})
	return current, err
}
