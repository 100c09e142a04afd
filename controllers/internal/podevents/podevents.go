// Package podevents wakes the controller object of a pod and observes the pod creations
// and deletions it expects, for controllers that own pods directly and adopt orphans.
package podevents

import (
	"context"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/workqueue"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
	"github.com/kybern/kybern/controllers/internal/expectations"
)

type queue = workqueue.TypedRateLimitingInterface[reconcile.Request]

// Handler wakes the object of kind Owner that controls a pod, and for an orphan every
// object Selecting returns, so that one adopts it. It observes the creations and
// deletions Expectations hold for the owner; a pod marked for deletion counts as deleted.
type Handler struct {
	Owner        schema.GroupVersionKind
	Expectations *expectations.Expectations
	// Selecting are the owners whose selector matches an orphan pod's labels; nil for a
	// controller that adopts no orphans.
	Selecting func(ctx context.Context, pod *corev1alpha1.Pod) []reconcile.Request
	// Changed, when not nil, sees each update of a pod its owner controlled before the
	// update, with the updated pod, and each deletion (deleted true), before the owner is
	// woken.
	Changed func(owner types.NamespacedName, pod *corev1alpha1.Pod, deleted bool)
}

func (h *Handler) Create(ctx context.Context, e event.TypedCreateEvent[client.Object], q queue) {
	pod := e.Object.(*corev1alpha1.Pod)
	owner, owned := h.controller(pod)
	switch {
	case pod.DeletionTimestamp != nil:
		h.gone(pod, q)
	case owned:
		h.Expectations.CreationObserved(owner.String())
		q.Add(reconcile.Request{NamespacedName: owner})
	default:
		h.wakeSelecting(ctx, pod, q)
	}
}

func (h *Handler) Update(ctx context.Context, e event.TypedUpdateEvent[client.Object], q queue) {
	before, after := e.ObjectOld.(*corev1alpha1.Pod), e.ObjectNew.(*corev1alpha1.Pod)
	if before.ResourceVersion == after.ResourceVersion {
		return
	}
	was, wasOwned := h.controller(before)
	is, isOwned := h.controller(after)
	if wasOwned && h.Changed != nil {
		h.Changed(was, after, false)
	}
	if after.DeletionTimestamp != nil {
		h.gone(after, q)
		if wasOwned && was != is {
			// Released and deleted in one update: the former owner saw it go too.
			h.gone(before, q)
		}
		return
	}
	if wasOwned && was != is {
		q.Add(reconcile.Request{NamespacedName: was})
	}
	switch {
	case isOwned:
		q.Add(reconcile.Request{NamespacedName: is})
	case wasOwned || !labels.Equals(before.Labels, after.Labels):
		h.wakeSelecting(ctx, after, q)
	}
}

func (h *Handler) Delete(_ context.Context, e event.TypedDeleteEvent[client.Object], q queue) {
	pod, ok := e.Object.(*corev1alpha1.Pod)
	if !ok {
		return
	}
	if owner, owned := h.controller(pod); owned && h.Changed != nil {
		h.Changed(owner, pod, true)
	}
	h.gone(pod, q)
}

func (h *Handler) Generic(context.Context, event.TypedGenericEvent[client.Object], queue) {}

func (h *Handler) gone(pod *corev1alpha1.Pod, q queue) {
	if owner, ok := h.controller(pod); ok {
		h.Expectations.DeletionObserved(owner.String(), client.ObjectKeyFromObject(pod).String())
		q.Add(reconcile.Request{NamespacedName: owner})
	}
}

func (h *Handler) wakeSelecting(ctx context.Context, pod *corev1alpha1.Pod, q queue) {
	if h.Selecting == nil {
		return
	}
	for _, req := range h.Selecting(ctx, pod) {
		q.Add(req)
	}
}

// controller is the object of kind Owner that controls pod, if one does.
func (h *Handler) controller(pod *corev1alpha1.Pod) (types.NamespacedName, bool) {
	ref := metav1.GetControllerOfNoCopy(pod)
	if ref == nil || ref.Kind != h.Owner.Kind || ref.APIVersion != h.Owner.GroupVersion().String() {
		return types.NamespacedName{}, false
	}
	return types.NamespacedName{Namespace: pod.Namespace, Name: ref.Name}, true
}
