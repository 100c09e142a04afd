package endpoints

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

	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
	"github.com/kybern/kybern/controllers/internal/expectations"
)

type queue = workqueue.TypedRateLimitingInterface[reconcile.Request]

// podEvents wakes every Service in a pod's namespace whose selector matches the pod's
// labels, before or after a change.
type podEvents struct {
	reader client.Reader
}

func (h *podEvents) Create(ctx context.Context, e event.TypedCreateEvent[client.Object], q queue) {
	h.wake(ctx, e.Object, q, e.Object.GetLabels())
}

func (h *podEvents) Update(ctx context.Context, e event.TypedUpdateEvent[client.Object], q queue) {
	if e.ObjectOld.GetResourceVersion() != e.ObjectNew.GetResourceVersion() {
		h.wake(ctx, e.ObjectNew, q, e.ObjectOld.GetLabels(), e.ObjectNew.GetLabels())
	}
}

func (h *podEvents) Delete(ctx context.Context, e event.TypedDeleteEvent[client.Object], q queue) {
	h.wake(ctx, e.Object, q, e.Object.GetLabels())
}

func (h *podEvents) Generic(context.Context, event.TypedGenericEvent[client.Object], queue) {}

func (h *podEvents) wake(ctx context.Context, pod client.Object, q queue, labelSets ...map[string]string) {
	var list corev1alpha1.ServiceList
	if err := h.reader.List(ctx, &list, client.InNamespace(pod.GetNamespace()), client.UnsafeDisableDeepCopy); err != nil {
		log.FromContext(ctx).Error(err, "Listing Services for a pod change", "pod", client.ObjectKeyFromObject(pod))
		return
	}
	for i := range list.Items {
		svc := &list.Items[i]
		if svc.Spec.Selector == nil {
			continue
		}
		sel := labels.SelectorFromSet(svc.Spec.Selector)
		for _, set := range labelSets {
			if sel.Matches(labels.Set(set)) {
				q.Add(reconcile.Request{NamespacedName: client.ObjectKeyFromObject(svc)})
				break
			}
		}
	}
}

// sliceEvents wakes the Service that controls a slice and observes the creations and
// deletions it expects.
type sliceEvents struct {
	expectations *expectations.Expectations
}

func (h *sliceEvents) Create(_ context.Context, e event.TypedCreateEvent[client.Object], q queue) {
	if svc, ok := controllingService(e.Object); ok {
		h.expectations.CreationObserved(svc.String())
		q.Add(reconcile.Request{NamespacedName: svc})
	}
}

func (h *sliceEvents) Update(_ context.Context, e event.TypedUpdateEvent[client.Object], q queue) {
	if svc, ok := controllingService(e.ObjectNew); ok {
		q.Add(reconcile.Request{NamespacedName: svc})
	}
}

func (h *sliceEvents) Delete(_ context.Context, e event.TypedDeleteEvent[client.Object], q queue) {
	if svc, ok := controllingService(e.Object); ok {
		h.expectations.DeletionObserved(svc.String(), client.ObjectKeyFromObject(e.Object).String())
		q.Add(reconcile.Request{NamespacedName: svc})
	}
}

func (h *sliceEvents) Generic(context.Context, event.TypedGenericEvent[client.Object], queue) {}

// controllingService is the Service that controls a slice, if one does.
func controllingService(o client.Object) (types.NamespacedName, bool) {
	ref := metav1.GetControllerOfNoCopy(o)
	if ref == nil || ref.Kind != gvk.Kind || ref.APIVersion != gvk.GroupVersion().String() {
		return types.NamespacedName{}, false
	}
	return types.NamespacedName{Namespace: o.GetNamespace(), Name: ref.Name}, true
}
