package job

import (
	"context"
	"fmt"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	batchv1alpha1 "github.com/kybern/kybern/api/batch/v1alpha1"
)

// expireFinished deletes a finished Job once ttlSecondsAfterFinished has passed, with
// its pods in the foreground as upstream's TTL controller does, or comes back then.
func (r *Reconciler) expireFinished(ctx context.Context, job *batchv1alpha1.Job) (ctrl.Result, error) {
	ttl := job.Spec.TTLSecondsAfterFinished
	at, ok := finishedTime(job)
	if ttl == nil || !ok || job.DeletionTimestamp != nil {
		return ctrl.Result{}, nil
	}
	if left := at.Add(time.Duration(*ttl) * time.Second).Sub(r.Clock.Now()); left > 0 {
		return ctrl.Result{RequeueAfter: left}, nil
	}
	policy := metav1.DeletePropagationForeground
	err := r.Delete(ctx, job, &client.DeleteOptions{PropagationPolicy: &policy, Preconditions: &metav1.Preconditions{UID: &job.UID}})
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
		return ctrl.Result{}, fmt.Errorf("deleting the Job after ttlSecondsAfterFinished: %w", err)
	}
	log.FromContext(ctx).Info("Deleted the finished Job after its ttlSecondsAfterFinished", "ttlSeconds", *ttl)
	return ctrl.Result{}, nil
}
