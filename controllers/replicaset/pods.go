package replicaset

import (
	"context"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	appsv1alpha1 "github.com/kybern/kybern/api/apps/v1alpha1"
	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
)

// selecting returns, for an orphan pod, every ReplicaSet whose selector matches it, so
// that one of them adopts it.
func selecting(reader client.Reader) func(context.Context, *corev1alpha1.Pod) []reconcile.Request {
	return func(ctx context.Context, pod *corev1alpha1.Pod) []reconcile.Request {
		var list appsv1alpha1.ReplicaSetList
		if err := reader.List(ctx, &list, client.InNamespace(pod.Namespace), client.UnsafeDisableDeepCopy); err != nil {
			log.FromContext(ctx).Error(err, "Listing ReplicaSets for an orphan pod", "pod", client.ObjectKeyFromObject(pod))
			return nil
		}
		var out []reconcile.Request
		for i := range list.Items {
			rs := &list.Items[i]
			sel, err := metav1.LabelSelectorAsSelector(rs.Spec.Selector)
			if err != nil || sel.Empty() || !sel.Matches(labelSet(pod)) {
				continue
			}
			out = append(out, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(rs)})
		}
		return out
	}
}

func labelSet(p *corev1alpha1.Pod) labels.Set { return labels.Set(p.Labels) }
