package job

import (
	"context"
	"errors"
	"fmt"

	batchv1 "k8s.io/api/batch/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	batchv1alpha1 "github.com/kybern/kybern/api/batch/v1alpha1"
	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
)

// namespacePods are the pods of namespace, as the cache has them.
func (r *Reconciler) namespacePods(ctx context.Context, namespace string) ([]*corev1alpha1.Pod, error) {
	var list corev1alpha1.PodList
	if err := r.List(ctx, &list, client.InNamespace(namespace)); err != nil {
		return nil, err
	}
	pods := make([]*corev1alpha1.Pod, len(list.Items))
	for i := range list.Items {
		pods[i] = &list.Items[i]
	}
	return pods, nil
}

// releaseAll removes the tracking finalizer from those of pods that belong to a Job
// called name other than the one with UID keep (any, when keep is empty): pods of a Job
// that is gone or finished would otherwise never be deleted.
func (r *Reconciler) releaseAll(ctx context.Context, pods []*corev1alpha1.Pod, name string, keep types.UID) error {
	var errs []error
	for _, p := range pods {
		if !hasTrackingFinalizer(p) || jobName(p) != name {
			continue
		}
		if ref := metav1.GetControllerOfNoCopy(p); keep != "" && (ref == nil || ref.UID == keep) {
			continue
		}
		errs = append(errs, r.removeFinalizer(ctx, p))
	}
	return errors.Join(errs...)
}

// trackAdopted gives the tracking finalizer to claimed pods that had no controller
// before this reconcile adopted them, so that they are counted like the Job's own.
func (r *Reconciler) trackAdopted(ctx context.Context, job *batchv1alpha1.Job, pods []*corev1alpha1.Pod) error {
	for _, p := range pods {
		if metav1.GetControllerOfNoCopy(p) != nil || hasTrackingFinalizer(p) {
			continue
		}
		orig := p.DeepCopy()
		p.Finalizers = append(p.Finalizers, batchv1.JobTrackingFinalizer)
		if err := r.Patch(ctx, p, client.MergeFromWithOptions(orig, client.MergeFromWithOptimisticLock{})); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("adding the tracking finalizer to adopted pod %s: %w", p.Name, err)
		}
	}
	return nil
}
