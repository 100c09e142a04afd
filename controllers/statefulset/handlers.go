package statefulset

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

// podEvents wakes the StatefulSet that controls a pod, and for an orphan every
// StatefulSet that selects it, so that one adopts it. It observes the creations and
// deletions the controller expects; a pod marked for deletion counts as deleted, since
// the plan waits for it to go by looking at the pod itself.
type podEvents struct {
	reader       client.Reader
	expectations *expectations.Expectations
}

func (h *podEvents) Create(ctx context.Context, e event.TypedCreateEvent[client.Object], q queue) {
	pod := e.Object.(*corev1alpha1.Pod)
	owner, owned := controllingSet(pod)
	switch {
	case pod.DeletionTimestamp != nil:
		h.gone(pod, q)
	case owned:
		h.expectations.CreationObserved(owner.String())
		q.Add(reconcile.Request{NamespacedName: owner})
	default:
		h.wakeSelecting(ctx, pod, q)
	}
}

func (h *podEvents) Update(ctx context.Context, e event.TypedUpdateEvent[client.Object], q queue) {
	before, after := e.ObjectOld.(*corev1alpha1.Pod), e.ObjectNew.(*corev1alpha1.Pod)
	if before.ResourceVersion == after.ResourceVersion {
		return
	}
	if after.DeletionTimestamp != nil {
		h.gone(after, q)
		return
	}
	was, wasOwned := controllingSet(before)
	is, isOwned := controllingSet(after)
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

func (h *podEvents) Delete(_ context.Context, e event.TypedDeleteEvent[client.Object], q queue) {
	if pod, ok := e.Object.(*corev1alpha1.Pod); ok {
		h.gone(pod, q)
	}
}

func (h *podEvents) Generic(context.Context, event.TypedGenericEvent[client.Object], queue) {}

func (h *podEvents) gone(pod *corev1alpha1.Pod, q queue) {
	if owner, ok := controllingSet(pod); ok {
		h.expectations.DeletionObserved(owner.String(), client.ObjectKeyFromObject(pod).String())
		q.Add(reconcile.Request{NamespacedName: owner})
	}
}

func (h *podEvents) wakeSelecting(ctx context.Context, pod *corev1alpha1.Pod, q queue) {
	for _, req := range setsSelecting(ctx, h.reader, pod) {
		q.Add(req)
	}
}

// setsSelecting are the StatefulSets of obj's namespace whose selector matches its labels.
func setsSelecting(ctx context.Context, reader client.Reader, obj client.Object) []reconcile.Request {
	var list appsv1alpha1.StatefulSetList
	if err := reader.List(ctx, &list, client.InNamespace(obj.GetNamespace()), client.UnsafeDisableDeepCopy); err != nil {
		log.FromContext(ctx).Error(err, "Listing StatefulSets for an object they may select", "object", client.ObjectKeyFromObject(obj))
		return nil
	}
	var out []reconcile.Request
	for i := range list.Items {
		sel, err := metav1.LabelSelectorAsSelector(list.Items[i].Spec.Selector)
		if err == nil && !sel.Empty() && sel.Matches(labels.Set(obj.GetLabels())) {
			out = append(out, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&list.Items[i])})
		}
	}
	return out
}

// controllingSet is the StatefulSet that controls pod, if one does.
func controllingSet(pod *corev1alpha1.Pod) (types.NamespacedName, bool) {
	ref := metav1.GetControllerOfNoCopy(pod)
	if ref == nil || ref.Kind != gvk.Kind || ref.APIVersion != gvk.GroupVersion().String() {
		return types.NamespacedName{}, false
	}
	return types.NamespacedName{Namespace: pod.Namespace, Name: ref.Name}, true
}
