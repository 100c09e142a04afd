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

// holdPod adds the finalizer before anything of the pod runs. A conflict means the pod
// changed since it was read: it is read again and the patch retried at once.
func (w *Worker) holdPod(ctx context.Context, pod *corev1alpha1.Pod) error {
	current := pod
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		held := current.DeepCopy()
		controllerutil.AddFinalizer(held, corev1alpha1.NodeAgentFinalizer)
		err := w.env.Client.Patch(ctx, held, client.MergeFromWithOptions(current, client.MergeFromWithOptimisticLock{}))
		if err == nil {
			current = held
			return nil
		}
		if apierrors.IsConflict(err) {
			fresh := &corev1alpha1.Pod{}
			if getErr := w.env.Client.Get(ctx, client.ObjectKeyFromObject(pod), fresh); getErr != nil {
				return getErr
			}
			current = fresh
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("adding finalizer %s: %w", corev1alpha1.NodeAgentFinalizer, err)
	}
	w.mu.Lock()
	if w.pod == pod {
		w.pod = current
	}
	w.mu.Unlock()
	return nil
}

// releasePod removes the finalizer, letting the deletion finish.
func (w *Worker) releasePod(ctx context.Context, pod *corev1alpha1.Pod) error {
	released := pod.DeepCopy()
	controllerutil.RemoveFinalizer(released, corev1alpha1.NodeAgentFinalizer)
	err := w.env.Client.Patch(ctx, released, client.MergeFromWithOptions(pod, client.MergeFromWithOptimisticLock{}))
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("removing finalizer %s: %w", corev1alpha1.NodeAgentFinalizer, err)
	}
	return nil
}
