// Package claim reconciles a controller's ownership of the objects its selector matches,
// as upstream's ControllerRefManager does: it adopts matching orphans, releases owned
// objects that stopped matching, and leaves objects another controller owns alone.
package claim

import (
	"context"
	"errors"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Owner is the controller object claiming, and how to reach the apiserver for it.
type Owner struct {
	// Object is the controller object as the cache shows it.
	Object client.Object
	// GVK is Object's kind, for the controllerRef.
	GVK schema.GroupVersionKind
	// Selector picks the objects the owner wants.
	Selector labels.Selector
	// Writer patches the claimed objects.
	Writer client.Writer
	// Fresh reads the owner from the apiserver, bypassing the cache, before the first
	// adoption: a cache can still show an owner that is already being deleted.
	Fresh client.Reader
}

// Claim returns the objects of objs that owner controls once it has adopted and released
// what it should. Objects it failed to adopt or release are left out, and their errors
// are returned together.
func Claim[T client.Object](ctx context.Context, owner Owner, objs []T) ([]T, error) {
	var (
		claimed  []T
		errs     []error
		canAdopt *bool
	)
	deleting := owner.Object.GetDeletionTimestamp() != nil
	for _, obj := range objs {
		matches := owner.Selector.Matches(labels.Set(obj.GetLabels()))
		ref := metav1.GetControllerOfNoCopy(obj)
		switch {
		case ref != nil && ref.UID != owner.Object.GetUID():
			continue
		case ref != nil && (matches || deleting):
			claimed = append(claimed, obj)
		case ref != nil:
			if err := release(ctx, owner, obj); err != nil && !apierrors.IsNotFound(err) {
				errs = append(errs, err)
			}
		case !matches || deleting || obj.GetDeletionTimestamp() != nil:
			continue
		default:
			if canAdopt == nil {
				ok, err := stillOwner(ctx, owner)
				if err != nil {
					return claimed, err
				}
				canAdopt = &ok
			}
			if !*canAdopt {
				continue
			}
			if err := adopt(ctx, owner, obj); err != nil {
				if !apierrors.IsNotFound(err) {
					errs = append(errs, err)
				}
				continue
			}
			claimed = append(claimed, obj)
		}
	}
	return claimed, errors.Join(errs...)
}

// stillOwner reports whether the owner exists with the same UID and is not being deleted.
func stillOwner(ctx context.Context, owner Owner) (bool, error) {
	fresh := owner.Object.DeepCopyObject().(client.Object)
	if err := owner.Fresh.Get(ctx, client.ObjectKeyFromObject(owner.Object), fresh); err != nil {
		if apierrors.IsNotFound(err) {
			return false, nil
		}
		return false, err
	}
	return fresh.GetUID() == owner.Object.GetUID() && fresh.GetDeletionTimestamp() == nil, nil
}

// adopt makes owner the controller of obj, failing if obj changed since it was read.
func adopt(ctx context.Context, owner Owner, obj client.Object) error {
	orig := obj.DeepCopyObject().(client.Object)
	refs := append(obj.GetOwnerReferences(), metav1.OwnerReference{
		APIVersion:         owner.GVK.GroupVersion().String(),
		Kind:               owner.GVK.Kind,
		Name:               owner.Object.GetName(),
		UID:                owner.Object.GetUID(),
		Controller:         ptr.To(true),
		BlockOwnerDeletion: ptr.To(true),
	})
	patched := orig.DeepCopyObject().(client.Object)
	patched.SetOwnerReferences(refs)
	if err := owner.Writer.Patch(ctx, patched, client.MergeFromWithOptions(orig, client.MergeFromWithOptimisticLock{})); err != nil {
		return fmt.Errorf("adopting %s: %w", obj.GetName(), err)
	}
	return nil
}

// release removes owner's controllerRef from obj, failing if obj changed since it was read.
func release(ctx context.Context, owner Owner, obj client.Object) error {
	orig := obj.DeepCopyObject().(client.Object)
	var refs []metav1.OwnerReference
	for _, r := range obj.GetOwnerReferences() {
		if r.UID != owner.Object.GetUID() {
			refs = append(refs, r)
		}
	}
	patched := orig.DeepCopyObject().(client.Object)
	patched.SetOwnerReferences(refs)
	if err := owner.Writer.Patch(ctx, patched, client.MergeFromWithOptions(orig, client.MergeFromWithOptimisticLock{})); err != nil {
		return fmt.Errorf("releasing %s: %w", obj.GetName(), err)
	}
	return nil
}
