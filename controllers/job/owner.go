package job

import (
	batchv1 "k8s.io/api/batch/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	batchv1alpha1 "github.com/kybern/kybern/api/batch/v1alpha1"
	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
)

// trackingFinalizerChanged observes the tracking finalizers the controller waits to see
// removed: gone from an updated pod, or with the pod.
func (r *Reconciler) trackingFinalizerChanged(owner types.NamespacedName, pod *corev1alpha1.Pod, deleted bool) {
	if deleted || !hasTrackingFinalizer(pod) {
		r.finalizers.observed(owner.String(), pod.UID)
	}
}

// ownerJob is the Job that controls pod, if one does.
func ownerJob(pod *corev1alpha1.Pod) (types.NamespacedName, bool) {
	ref := metav1.GetControllerOfNoCopy(pod)
	if ref == nil || ref.Kind != "Job" || ref.APIVersion != batchv1alpha1.GroupVersion.String() {
		return types.NamespacedName{}, false
	}
	return types.NamespacedName{Namespace: pod.Namespace, Name: ref.Name}, true
}

// jobName is the name of the Job a pod belongs to, by its controllerRef, or by the label
// upstream's apiserver sets for a pod without one.
func jobName(pod *corev1alpha1.Pod) string {
	if owner, ok := ownerJob(pod); ok {
		return owner.Name
	}
	return pod.Labels[batchv1.JobNameLabel]
}
