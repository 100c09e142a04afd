package configsnapshot

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"

	appsv1alpha1 "github.com/kybern/kybern/api/apps/v1alpha1"
)

// IndexField indexes a workload by the Refs, as strings, of the ConfigMaps and Secrets
// its template references, when its configPolicy is Snapshot.
const IndexField = "spec.template.configRefs"

// IndexValues are a workload's values under IndexField.
func IndexValues(policy appsv1alpha1.ConfigPolicy, t *corev1.PodTemplateSpec) []string {
	if policy != appsv1alpha1.ConfigSnapshot {
		return nil
	}
	var out []string
	for _, r := range References(&t.Spec) {
		out = append(out, r.String())
	}
	return out
}

// Watch adds to b watches of ConfigMaps' and Secrets' metadata that wake the workloads,
// listed into newList's kind, whose IndexField holds the changed object, so that an edit
// makes a new revision.
func Watch(b *builder.Builder, c client.Reader, newList func() client.ObjectList) *builder.Builder {
	for _, k := range []Kind{ConfigMap, Secret} {
		b = b.WatchesMetadata(metadataOf(k), handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, obj client.Object) []ctrl.Request {
			return referrers(ctx, c, newList(), Ref{Kind: k, Name: obj.GetName()}, obj.GetNamespace())
		}))
	}
	return b
}

func referrers(ctx context.Context, c client.Reader, list client.ObjectList, ref Ref, namespace string) []ctrl.Request {
	if err := c.List(ctx, list, client.InNamespace(namespace), client.MatchingFields{IndexField: ref.String()}); err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "Listing the workloads that use a configuration object", "kind", ref.Kind, "object", client.ObjectKey{Namespace: namespace, Name: ref.Name})
		return nil
	}
	var out []ctrl.Request
	_ = meta.EachListItem(list, func(o runtime.Object) error {
		if obj, ok := o.(client.Object); ok {
			out = append(out, ctrl.Request{NamespacedName: client.ObjectKeyFromObject(obj)})
		}
		return nil
	})
	return out
}
