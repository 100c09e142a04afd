package statefulset

import (
	"context"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	appsv1alpha1 "github.com/kybern/kybern/api/apps/v1alpha1"
	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
)

var podGVK = corev1alpha1.GroupVersion.WithKind("Pod")

// wantedOwners says which ownerReferences the claims of set's pod of ordinal need under
// persistentVolumeClaimRetentionPolicy, as upstream's: whenDeleted Delete gives them a
// reference to set, so that the garbage collector deletes them with it; whenScaled Delete
// gives the claims of a condemned ordinal (outside the range) a reference to its pod, so
// that they go with the pod, and then none to set. Retain wants neither.
func wantedOwners(set *appsv1alpha1.StatefulSet, ordinal int) (toSet, toPod bool) {
	policy := set.Spec.PersistentVolumeClaimRetentionPolicy
	if policy == nil {
		return false, false
	}
	scaledAway := policy.WhenScaled == appsv1.DeletePersistentVolumeClaimRetentionPolicyType && !inRange(set, ordinal)
	return policy.WhenDeleted == appsv1.DeletePersistentVolumeClaimRetentionPolicyType && !scaledAway, scaledAway
}

// claimOwners is claim's ownerReferences as set's policy wants them for pod (of ordinal)
// and whether that differs from what it has. References to other owners stay. pod may be
// nil, before the pod exists; it then gets no reference.
func claimOwners(claim *corev1.PersistentVolumeClaim, set *appsv1alpha1.StatefulSet, pod *corev1alpha1.Pod, ordinal int) ([]metav1.OwnerReference, bool) {
	toSet, toPod := wantedOwners(set, ordinal)
	refs := claim.OwnerReferences
	refs, setChanged := withRef(refs, toSet, metav1.OwnerReference{APIVersion: gvk.GroupVersion().String(), Kind: gvk.Kind, Name: set.Name, UID: set.UID})
	podChanged := false
	if pod != nil {
		refs, podChanged = withRef(refs, toPod, metav1.OwnerReference{APIVersion: podGVK.GroupVersion().String(), Kind: podGVK.Kind, Name: pod.Name, UID: pod.UID})
	}
	return refs, setChanged || podChanged
}

// withRef adds ref to refs when want and removes it (by UID) when not; changed says that
// it did either.
func withRef(refs []metav1.OwnerReference, want bool, ref metav1.OwnerReference) ([]metav1.OwnerReference, bool) {
	has := false
	out := make([]metav1.OwnerReference, 0, len(refs)+1)
	for _, r := range refs {
		if r.UID == ref.UID {
			has = true
			if !want {
				continue
			}
		}
		out = append(out, r)
	}
	if want && !has {
		out = append(out, ref)
	}
	return out, want != has
}

// staleClaim names a claim of a pod about to be created that must go before the pod can
// use it: one being deleted, or one that still refers to an earlier pod of the ordinal
// (whenScaled Delete gave it that reference when the ordinal was condemned, and the
// garbage collector deletes it now that the pod is gone). "" when there is none.
func staleClaim(set *appsv1alpha1.StatefulSet, ordinal int, claims map[string]*corev1.PersistentVolumeClaim) string {
	for _, t := range set.Spec.VolumeClaimTemplates {
		c := claims[claimName(set, t.Name, ordinal)]
		if c == nil {
			continue
		}
		if c.DeletionTimestamp != nil {
			return c.Name
		}
		for _, r := range c.OwnerReferences {
			if r.Kind == podGVK.Kind && r.APIVersion == podGVK.GroupVersion().String() && r.Name == podName(set, ordinal) {
				return c.Name
			}
		}
	}
	return ""
}

// claimsMatch reports whether every existing claim of p (of ordinal) has the owners set's
// policy wants.
func claimsMatch(set *appsv1alpha1.StatefulSet, p *corev1alpha1.Pod, ordinal int, claims map[string]*corev1.PersistentVolumeClaim) bool {
	for _, t := range set.Spec.VolumeClaimTemplates {
		if c := claims[claimName(set, t.Name, ordinal)]; c != nil {
			if _, changed := claimOwners(c, set, p, ordinal); changed {
				return false
			}
		}
	}
	return true
}

// createClaims creates the claims of ordinal that do not exist yet, with a reference to
// set when its policy deletes them with it. One that exists by now is left as it is.
func (r *Reconciler) createClaims(ctx context.Context, set *appsv1alpha1.StatefulSet, ordinal int, claims map[string]*corev1.PersistentVolumeClaim) error {
	for _, c := range newClaims(set, ordinal) {
		if claims[c.Name] != nil {
			continue
		}
		c.OwnerReferences, _ = claimOwners(c, set, nil, ordinal)
		err := r.Create(ctx, c)
		switch {
		case apierrors.IsAlreadyExists(err):
		case err != nil:
			r.Recorder.Eventf(set, corev1.EventTypeWarning, "FailedCreate", "Error creating claim %s for pod %s: %v", c.Name, podName(set, ordinal), err)
			return fmt.Errorf("creating claim %s: %w", c.Name, err)
		default:
			r.Recorder.Eventf(set, corev1.EventTypeNormal, "SuccessfulCreate", "Created claim %s for pod %s", c.Name, podName(set, ordinal))
		}
	}
	return nil
}

// fixClaimOwners gives the claims of p (of ordinal) the owners set's policy wants, each
// patched only if unchanged since it was read.
func (r *Reconciler) fixClaimOwners(ctx context.Context, set *appsv1alpha1.StatefulSet, p *corev1alpha1.Pod, ordinal int, claims map[string]*corev1.PersistentVolumeClaim) error {
	for _, t := range set.Spec.VolumeClaimTemplates {
		c := claims[claimName(set, t.Name, ordinal)]
		if c == nil {
			continue
		}
		refs, changed := claimOwners(c, set, p, ordinal)
		if !changed {
			continue
		}
		patched := c.DeepCopy()
		patched.OwnerReferences = refs
		log.FromContext(ctx).V(1).Info("Updating claim owners for the retention policy", "claim", c.Name, "pod", p.Name)
		if err := r.Patch(ctx, patched, client.MergeFromWithOptions(c, client.MergeFromWithOptimisticLock{})); client.IgnoreNotFound(err) != nil {
			return fmt.Errorf("updating owners of claim %s: %w", c.Name, err)
		}
	}
	return nil
}

// claimsByName indexes claims by name.
func claimsByName(items []corev1.PersistentVolumeClaim) map[string]*corev1.PersistentVolumeClaim {
	out := make(map[string]*corev1.PersistentVolumeClaim, len(items))
	for i := range items {
		out[items[i].Name] = &items[i]
	}
	return out
}
