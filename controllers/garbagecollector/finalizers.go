package garbagecollector

import (
	"context"
	"slices"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// dependents lists the objects of every watched kind that name owner among their owners.
func (c *Collector) dependents(ctx context.Context, owner client.Object) ([]*metav1.PartialObjectMetadata, error) {
	var out []*metav1.PartialObjectMetadata
	for _, gvk := range Kinds {
		list := &metav1.PartialObjectMetadataList{}
		list.SetGroupVersionKind(gvk.GroupVersion().WithKind(gvk.Kind + "List"))
		if err := c.Client.List(ctx, list, client.MatchingFields{ownerUIDIndex: string(owner.GetUID())}); err != nil {
			return nil, err
		}
		for i := range list.Items {
			dep := &list.Items[i]
			dep.SetGroupVersionKind(gvk)
			out = append(out, dep)
		}
	}
	return out, nil
}

// orphanDependents removes owner's references from its dependents, then its orphan
// finalizer, so that its deletion completes and the dependents stay.
func (c *Collector) orphanDependents(ctx context.Context, owner *metav1.PartialObjectMetadata) error {
	deps, err := c.dependents(ctx, owner)
	if err != nil {
		return err
	}
	for _, dep := range deps {
		if err := c.removeOwnerRefs(ctx, dep, map[types.UID]bool{owner.UID: true}); err != nil {
			return err
		}
	}
	ctrl.LoggerFrom(ctx).Info("Orphaned dependents", "owner", client.ObjectKeyFromObject(owner), "kind", owner.Kind, "dependents", len(deps))
	return c.removeFinalizer(ctx, owner, metav1.FinalizerOrphanDependents)
}

// deleteDependentsFirst deletes the dependents of an owner deleted in the foreground, and
// removes its foregroundDeletion finalizer once no dependent that blocks it is left.
func (c *Collector) deleteDependentsFirst(ctx context.Context, owner *metav1.PartialObjectMetadata) error {
	deps, err := c.dependents(ctx, owner)
	if err != nil {
		return err
	}
	blocking := 0
	for _, dep := range deps {
		if blocks(dep, owner.UID) {
			blocking++
		}
		if dep.DeletionTimestamp != nil {
			continue
		}
		if err := c.collectIfOwnerless(ctx, dep); err != nil {
			return err
		}
	}
	if blocking > 0 {
		// Their deletion events bring the owner back here.
		return nil
	}
	ctrl.LoggerFrom(ctx).Info("Dependents deleted; completing foreground deletion", "owner", client.ObjectKeyFromObject(owner), "kind", owner.Kind)
	return c.removeFinalizer(ctx, owner, metav1.FinalizerDeleteDependents)
}

// blocks reports whether dep holds up the foreground deletion of the owner with uid.
func blocks(dep *metav1.PartialObjectMetadata, uid types.UID) bool {
	for _, ref := range dep.OwnerReferences {
		if ref.UID == uid && ref.BlockOwnerDeletion != nil && *ref.BlockOwnerDeletion {
			return true
		}
	}
	return false
}

func (c *Collector) removeFinalizer(ctx context.Context, obj *metav1.PartialObjectMetadata, finalizer string) error {
	orig := obj.DeepCopy()
	patched := obj.DeepCopy()
	patched.Finalizers = slices.DeleteFunc(slices.Clone(obj.Finalizers), func(f string) bool { return f == finalizer })
	err := c.Client.Patch(ctx, patched, client.MergeFromWithOptions(orig, client.MergeFromWithOptimisticLock{}))
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}
