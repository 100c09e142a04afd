package statefulset

import (
	"context"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	appsv1alpha1 "github.com/kybern/kybern/api/apps/v1alpha1"
)

// setsSelecting are the StatefulSets of obj's namespace whose selector matches its
// labels: for an orphan pod, the sets that may adopt it; for a claim, the sets that may
// be waiting for it to go.
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
