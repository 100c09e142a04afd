package job

import (
	"context"

	batchv1 "k8s.io/api/batch/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/workqueue"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	batchv1alpha1 "github.com/kybern/kybern/api/batch/v1alpha1"
	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
	"github.com/kybern/kybern/controllers/internal/expectations"
)

type queue = workqueue.TypedRateLimitingInterface[reconcile.Request]

// podHandler turns pod events into reconciles of the Job controlling the pod and
// observes what the controller expects: creations, deletions (a pod marked for deletion
// counts as deleted) and tracking finalizers gone.
type podHandler struct {
	expectations *expectations.Expectations
	finalizers   *finalizerExpectations
}

func (h *podHandler) Create(_ context.Context, e event.TypedCreateEvent[client.Object], q queue) {
	pod := e.Object.(*corev1alpha1.Pod)
	owner, ok := ownerJob(pod)
	if !ok {
		return
	}
	if pod.DeletionTimestamp != nil {
		h.deleted(owner, pod)
	} else {
		h.expectations.CreationObserved(owner.String())
	}
	q.Add(reconcile.Request{NamespacedName: owner})
}

func (h *podHandler) Update(_ context.Context, e event.TypedUpdateEvent[client.Object], q queue) {
	old, cur := e.ObjectOld.(*corev1alpha1.Pod), e.ObjectNew.(*corev1alpha1.Pod)
	if old.ResourceVersion == cur.ResourceVersion {
		return
	}
	if owner, ok := ownerJob(old); ok {
		if cur.DeletionTimestamp != nil {
			h.deleted(owner, cur)
		}
		if !hasTrackingFinalizer(cur) {
			h.finalizers.observed(owner.String(), cur.UID)
		}
		q.Add(reconcile.Request{NamespacedName: owner})
	}
	if owner, ok := ownerJob(cur); ok {
		q.Add(reconcile.Request{NamespacedName: owner})
	}
}

func (h *podHandler) Delete(_ context.Context, e event.TypedDeleteEvent[client.Object], q queue) {
	pod, ok := e.Object.(*corev1alpha1.Pod)
	if !ok {
		return
	}
	if owner, ok := ownerJob(pod); ok {
		h.deleted(owner, pod)
		h.finalizers.observed(owner.String(), pod.UID)
		q.Add(reconcile.Request{NamespacedName: owner})
	}
}

func (h *podHandler) Generic(context.Context, event.TypedGenericEvent[client.Object], queue) {}

func (h *podHandler) deleted(owner types.NamespacedName, pod *corev1alpha1.Pod) {
	h.expectations.DeletionObserved(owner.String(), types.NamespacedName{Namespace: pod.Namespace, Name: pod.Name}.String())
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
