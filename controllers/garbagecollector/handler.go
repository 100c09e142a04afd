package garbagecollector

import (
	"context"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/workqueue"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/event"
)

type queue = workqueue.TypedRateLimitingInterface[item]

// eventHandler turns the metadata events of one kind into items: the object itself when
// it has owners or is being deleted; when it is gone, its dependents (whose owner it was)
// and its owners (which may wait for it).
type eventHandler struct {
	c   *Collector
	gvk schema.GroupVersionKind
}

func (h *eventHandler) Create(_ context.Context, e event.TypedCreateEvent[*metav1.PartialObjectMetadata], q queue) {
	h.enqueueSelf(e.Object, q)
}

func (h *eventHandler) Update(_ context.Context, e event.TypedUpdateEvent[*metav1.PartialObjectMetadata], q queue) {
	h.enqueueSelf(e.ObjectNew, q)
}

func (h *eventHandler) Delete(ctx context.Context, e event.TypedDeleteEvent[*metav1.PartialObjectMetadata], q queue) {
	obj := e.Object
	deps, err := h.c.dependents(ctx, obj)
	if err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "Listing dependents of a deleted object", "object", obj.Name)
	}
	for _, dep := range deps {
		q.Add(item{GVK: dep.GroupVersionKind(), NamespacedName: types.NamespacedName{Namespace: dep.Namespace, Name: dep.Name}})
	}
	for _, ref := range obj.OwnerReferences {
		if owner, ok := h.ownerItem(obj, ref); ok {
			q.Add(owner)
		}
	}
}

func (h *eventHandler) Generic(context.Context, event.TypedGenericEvent[*metav1.PartialObjectMetadata], queue) {
}

func (h *eventHandler) enqueueSelf(obj *metav1.PartialObjectMetadata, q queue) {
	if len(obj.OwnerReferences) > 0 || (obj.DeletionTimestamp != nil && len(obj.Finalizers) > 0) {
		q.Add(item{GVK: h.gvk, NamespacedName: types.NamespacedName{Namespace: obj.Namespace, Name: obj.Name}})
	}
}

// ownerItem is the item of obj's owner, when the owner is of a watched kind.
func (h *eventHandler) ownerItem(obj *metav1.PartialObjectMetadata, ref metav1.OwnerReference) (item, bool) {
	gv, err := schema.ParseGroupVersion(ref.APIVersion)
	if err != nil || !watched(gv.WithKind(ref.Kind)) {
		return item{}, false
	}
	gvk := gv.WithKind(ref.Kind)
	mapping, err := h.c.Mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		return item{}, false
	}
	key := types.NamespacedName{Name: ref.Name}
	if mapping.Scope.Name() == meta.RESTScopeNameNamespace {
		key.Namespace = obj.Namespace
	}
	return item{GVK: gvk, NamespacedName: key}, true
}
