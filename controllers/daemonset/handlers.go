package daemonset

import (
	"context"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/util/workqueue"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	appsv1alpha1 "github.com/kybern/kybern/api/apps/v1alpha1"
	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
)

type queue = workqueue.TypedRateLimitingInterface[reconcile.Request]

// selectingPod are the DaemonSets of pod's namespace whose selector matches its labels.
func selectingPod(reader client.Reader) func(context.Context, *corev1alpha1.Pod) []reconcile.Request {
	return func(ctx context.Context, pod *corev1alpha1.Pod) []reconcile.Request {
		var list appsv1alpha1.DaemonSetList
		if err := reader.List(ctx, &list, client.InNamespace(pod.Namespace), client.UnsafeDisableDeepCopy); err != nil {
			log.FromContext(ctx).Error(err, "Listing DaemonSets for an orphan pod", "pod", client.ObjectKeyFromObject(pod))
			return nil
		}
		var out []reconcile.Request
		for i := range list.Items {
			sel, err := metav1.LabelSelectorAsSelector(list.Items[i].Spec.Selector)
			if err == nil && !sel.Empty() && sel.Matches(labels.Set(pod.Labels)) {
				out = append(out, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&list.Items[i])})
			}
		}
		return out
	}
}

// nodeEvents wakes every DaemonSet when a node comes, goes, or changes what decides
// whether it fits: its labels or taints.
type nodeEvents struct {
	reader client.Reader
}

func (h *nodeEvents) Create(ctx context.Context, _ event.TypedCreateEvent[client.Object], q queue) {
	h.wakeAll(ctx, q)
}

func (h *nodeEvents) Update(ctx context.Context, e event.TypedUpdateEvent[client.Object], q queue) {
	before, after := e.ObjectOld.(*corev1alpha1.Node), e.ObjectNew.(*corev1alpha1.Node)
	if !labels.Equals(before.Labels, after.Labels) || !equalTaints(before.Spec.Taints, after.Spec.Taints) {
		h.wakeAll(ctx, q)
	}
}

func (h *nodeEvents) Delete(ctx context.Context, _ event.TypedDeleteEvent[client.Object], q queue) {
	h.wakeAll(ctx, q)
}

func (h *nodeEvents) Generic(context.Context, event.TypedGenericEvent[client.Object], queue) {}

func (h *nodeEvents) wakeAll(ctx context.Context, q queue) {
	var list appsv1alpha1.DaemonSetList
	if err := h.reader.List(ctx, &list, client.UnsafeDisableDeepCopy); err != nil {
		log.FromContext(ctx).Error(err, "Listing DaemonSets for a node change")
		return
	}
	for i := range list.Items {
		q.Add(reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&list.Items[i])})
	}
}
