package garbagecollector

import (
	"context"
	"slices"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// ownerState is what became of an object's owner.
type ownerState int

const (
	// solid: the owner exists and is not deleting its dependents first.
	solid ownerState = iota
	// dangling: the owner is gone, or the name now belongs to another object.
	dangling
	// waiting: the owner is being deleted in the foreground, waiting for its dependents.
	waiting
)

// collectIfOwnerless deletes obj when none of its owners is solid, or drops its
// references to gone and foreground-deleting owners when one is.
func (c *Collector) collectIfOwnerless(ctx context.Context, obj *metav1.PartialObjectMetadata) error {
	refs := obj.GetOwnerReferences()
	if len(refs) == 0 {
		return nil
	}
	var solids int
	drop := map[types.UID]bool{}
	anyWaiting := false
	for _, ref := range refs {
		state, err := c.ownerStateOf(ctx, obj, ref)
		if err != nil {
			return err
		}
		switch state {
		case solid:
			solids++
		case dangling:
			drop[ref.UID] = true
		case waiting:
			drop[ref.UID] = true
			anyWaiting = true
		}
	}
	log := ctrl.LoggerFrom(ctx).WithValues("object", client.ObjectKeyFromObject(obj), "kind", obj.GroupVersionKind().Kind)
	switch {
	case solids > 0 && len(drop) == 0:
		return nil
	case solids > 0:
		log.V(1).Info("Removing references to owners that are gone or being deleted")
		return c.removeOwnerRefs(ctx, obj, drop)
	}
	policy := metav1.DeletePropagationBackground
	switch {
	case anyWaiting:
		// A foreground-deleting owner waits for this object: delete it the same way, so that
		// its own dependents go first.
		policy = metav1.DeletePropagationForeground
	case slices.Contains(obj.Finalizers, metav1.FinalizerOrphanDependents):
		policy = metav1.DeletePropagationOrphan
	case slices.Contains(obj.Finalizers, metav1.FinalizerDeleteDependents):
		policy = metav1.DeletePropagationForeground
	}
	log.Info("Deleting object whose owners are gone", "propagationPolicy", policy)
	uid := obj.UID
	err := c.Client.Delete(ctx, obj, client.PropagationPolicy(policy), client.Preconditions{UID: &uid})
	if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
		// Gone already, or the name now belongs to a newer object that is not ours to judge.
		return nil
	}
	return err
}

// ownerStateOf finds out what became of one owner. The cache answers for a live owner; an
// owner missing from it is confirmed gone by the apiserver, since the cache may simply not
// have seen it yet. An owner of a kind the apiserver does not serve counts as solid: its
// dependents are never deleted on a guess.
func (c *Collector) ownerStateOf(ctx context.Context, obj *metav1.PartialObjectMetadata, ref metav1.OwnerReference) (ownerState, error) {
	gv, err := schema.ParseGroupVersion(ref.APIVersion)
	if err != nil {
		return solid, nil
	}
	gvk := gv.WithKind(ref.Kind)
	mapping, err := c.Mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		ctrl.LoggerFrom(ctx).V(1).Info("Owner kind not served; keeping the dependent", "owner", ref.Kind, "apiVersion", ref.APIVersion)
		return solid, nil
	}
	key := types.NamespacedName{Name: ref.Name}
	if mapping.Scope.Name() == meta.RESTScopeNameNamespace {
		key.Namespace = obj.Namespace
	}
	owner := metadataOf(gvk)
	if watched(gvk) {
		if err := c.Client.Get(ctx, key, owner); err == nil && owner.UID == ref.UID {
			return stateOf(owner), nil
		}
	}
	switch err := c.APIReader.Get(ctx, key, owner); {
	case apierrors.IsNotFound(err):
		return dangling, nil
	case err != nil:
		return solid, err
	case owner.UID != ref.UID:
		return dangling, nil
	}
	return stateOf(owner), nil
}

func stateOf(owner *metav1.PartialObjectMetadata) ownerState {
	if owner.DeletionTimestamp != nil && slices.Contains(owner.Finalizers, metav1.FinalizerDeleteDependents) {
		return waiting
	}
	return solid
}

// removeOwnerRefs drops obj's references to the given owner UIDs, failing on a conflict
// so that a concurrent change is read before trying again.
func (c *Collector) removeOwnerRefs(ctx context.Context, obj *metav1.PartialObjectMetadata, uids map[types.UID]bool) error {
	orig := obj.DeepCopy()
	var kept []metav1.OwnerReference
	for _, ref := range obj.OwnerReferences {
		if !uids[ref.UID] {
			kept = append(kept, ref)
		}
	}
	patched := obj.DeepCopy()
	patched.OwnerReferences = kept
	return client.IgnoreNotFound(c.Client.Patch(ctx, patched, client.MergeFromWithOptions(orig, client.MergeFromWithOptimisticLock{})))
}
