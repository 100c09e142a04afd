package replicaset

import (
	"context"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/workqueue"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	appsv1alpha1 "github.com/kybern/kybern/api/apps/v1alpha1"
	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
	"github.com/kybern/kybern/controllers/internal/expectations"
)

type queue = workqueue.TypedRateLimitingInterface[reconcile.Request]

// podHandler turns pod events into ReplicaSet reconciles and observes the creations and
// deletions the controller expects. A pod marked for deletion counts as deleted: its
// controller may replace it at once, as upstream does.
type podHandler struct {
	reader       client.Reader
	expectations *expectations.Expectations
}

func (h *podHandler) Create(ctx context.Context, e event.TypedCreateEvent[client.Object], q queue) {
	pod := e.Object.(*corev1alpha1.Pod)
	if pod.DeletionTimestamp != nil {
		h.deleted(pod, q)
		return
	}
	if owner, ok := ownerRS(pod); ok {
		h.expectations.CreationObserved(owner.String())
		q.Add(reconcile.Request{NamespacedName: owner})
		return
	}
	h.enqueueSelecting(ctx, pod, q)
}

func (h *podHandler) Update(ctx context.Context, e event.TypedUpdateEvent[client.Object], q queue) {
	old, cur := e.ObjectOld.(*corev1alpha1.Pod), e.ObjectNew.(*corev1alpha1.Pod)
	if old.ResourceVersion == cur.ResourceVersion {
		return
	}
	labelsChanged := !labels.Equals(old.Labels, cur.Labels)
	if cur.DeletionTimestamp != nil {
		h.deleted(cur, q)
		if labelsChanged {
			h.deleted(old, q)
		}
		return
	}
	oldOwner, hadOwner := ownerRS(old)
	curOwner, hasOwner := ownerRS(cur)
	if hadOwner && (!hasOwner || oldOwner != curOwner) {
		q.Add(reconcile.Request{NamespacedName: oldOwner})
	}
	if hasOwner {
		q.Add(reconcile.Request{NamespacedName: curOwner})
		return
	}
	if labelsChanged || hadOwner {
		h.enqueueSelecting(ctx, cur, q)
	}
}

func (h *podHandler) Delete(_ context.Context, e event.TypedDeleteEvent[client.Object], q queue) {
	pod, ok := e.Object.(*corev1alpha1.Pod)
	if !ok {
		return
	}
	h.deleted(pod, q)
}

func (h *podHandler) Generic(context.Context, event.TypedGenericEvent[client.Object], queue) {}

func (h *podHandler) deleted(pod *corev1alpha1.Pod, q queue) {
	owner, ok := ownerRS(pod)
	if !ok {
		return
	}
	h.expectations.DeletionObserved(owner.String(), types.NamespacedName{Namespace: pod.Namespace, Name: pod.Name}.String())
	q.Add(reconcile.Request{NamespacedName: owner})
}

// enqueueSelecting enqueues every ReplicaSet whose selector matches an orphan pod, so
// that one of them adopts it.
func (h *podHandler) enqueueSelecting(ctx context.Context, pod *corev1alpha1.Pod, q queue) {
	var list appsv1alpha1.ReplicaSetList
	if err := h.reader.List(ctx, &list, client.InNamespace(pod.Namespace), client.UnsafeDisableDeepCopy); err != nil {
		log.FromContext(ctx).Error(err, "Listing ReplicaSets for an orphan pod", "pod", client.ObjectKeyFromObject(pod))
		return
	}
	for i := range list.Items {
		rs := &list.Items[i]
		sel, err := metav1.LabelSelectorAsSelector(rs.Spec.Selector)
		if err != nil || sel.Empty() || !sel.Matches(labelSet(pod)) {
			continue
		}
		q.Add(reconcile.Request{NamespacedName: client.ObjectKeyFromObject(rs)})
	}
}

// ownerRS is the ReplicaSet that controls pod, if one does.
func ownerRS(pod *corev1alpha1.Pod) (types.NamespacedName, bool) {
	ref := metav1.GetControllerOfNoCopy(pod)
	if ref == nil || ref.Kind != "ReplicaSet" || ref.APIVersion != appsv1alpha1.GroupVersion.String() {
		return types.NamespacedName{}, false
	}
	return types.NamespacedName{Namespace: pod.Namespace, Name: ref.Name}, true
}

func labelSet(p *corev1alpha1.Pod) labels.Set { return labels.Set(p.Labels) }
