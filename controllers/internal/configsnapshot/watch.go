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

// Setup makes the Snapshotter of a workload controller built by b, whose objects are like
// obj and list into newList's kind, and whose policy and template of reads them: it
// indexes the objects under IndexField and adds watch's watches to b.
func Setup(ctx context.Context, mgr ctrl.Manager, b *builder.Builder, obj client.Object, newList func() client.ObjectList,
	of func(client.Object) (appsv1alpha1.ConfigPolicy, *corev1.PodTemplateSpec)) (*Snapshotter, *builder.Builder, error) {
	if err := mgr.GetFieldIndexer().IndexField(ctx, obj, IndexField, func(o client.Object) []string {
		return IndexValues(of(o))
	}); err != nil {
		return nil, nil, err
	}
	s := &Snapshotter{Metadata: mgr.GetCache(), Live: mgr.GetAPIReader(), Writer: mgr.GetClient()}
	return s, watch(b, mgr.GetCache(), newList), nil
}

// watch adds to b watches of ConfigMaps' and Secrets' metadata that wake the workloads,
// listed into newList's kind, whose IndexField holds the changed object, so that an edit
// makes a new revision.
func watch(b *builder.Builder, c client.Reader, newList func() client.ObjectList) *builder.Builder {
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
