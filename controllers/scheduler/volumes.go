package scheduler

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
	kclaims "github.com/kybern/kybern/internal/claims"
)

// selectedNode is the PersistentVolumeClaim annotation naming the node that keeps the
// claim's data, as upstream's scheduler sets it for WaitForFirstConsumer volumes. Node
// agents back claims with a local directory, so a claim's pods must all run there, unless
// the claim's class is a shared directory (corev1alpha1.SharedDirectoryProvisioner).
const selectedNode = "volume.kubernetes.io/selected-node"

// volumeConflict is upstream's reason for a node other than the one a pod's volumes are on.
const volumeConflict = "node(s) had volume node affinity conflict"

// podClaim is one PersistentVolumeClaim a pod mounts, and the node it is selected for.
type podClaim struct {
	key      types.NamespacedName
	selected string
}

// claimsOf reads the claims pod mounts from the manager's cache. why says when no node can
// take the pod: a claim is missing or being deleted.
func (r *Reconciler) claimsOf(ctx context.Context, pod *corev1alpha1.Pod) (claims []podClaim, why string, err error) {
	for _, v := range pod.Spec.Volumes {
		if v.PersistentVolumeClaim == nil {
			continue
		}
		key := types.NamespacedName{Namespace: pod.Namespace, Name: v.PersistentVolumeClaim.ClaimName}
		pvc := &corev1.PersistentVolumeClaim{}
		if err := r.Get(ctx, key, pvc); err != nil {
			if apierrors.IsNotFound(err) {
				return nil, fmt.Sprintf("persistentvolumeclaim %q not found", key.Name), nil
			}
			return nil, "", err
		}
		if pvc.DeletionTimestamp != nil {
			return nil, fmt.Sprintf("persistentvolumeclaim %q is being deleted", key.Name), nil
		}
		shared, err := kclaims.Shared(ctx, r, pvc)
		if err != nil {
			return nil, "", err
		}
		if shared {
			continue
		}
		claims = append(claims, podClaim{key: key, selected: pvc.Annotations[selectedNode]})
	}
	return claims, "", nil
}

// volumeNode is the node pod's claims tie it to, counting selections this scheduler made
// that its cache has not seen yet; empty when none is selected. Callers hold c.mu.
func (c *cache) volumeNode(claims []podClaim) (node, why string) {
	for _, claim := range claims {
		selected := claim.selected
		if selected == "" {
			selected = c.claims[claim.key]
		}
		if selected == "" {
			continue
		}
		if node != "" && node != selected {
			return "", fmt.Sprintf("the pod's persistentvolumeclaims are on different nodes, %s and %s: no node has them all", node, selected)
		}
		node = selected
	}
	return node, ""
}

// selectClaims records that pod's unselected claims go with node, and writes their
// annotation, before the pod is bound, so that the node agent finds the claim its own.
func (r *Reconciler) selectClaims(ctx context.Context, claims []podClaim, node string) error {
	for _, claim := range claims {
		if claim.selected != "" {
			continue
		}
		pvc := &corev1.PersistentVolumeClaim{}
		if err := r.Get(ctx, claim.key, pvc); err != nil {
			return err
		}
		orig := pvc.DeepCopy()
		if pvc.Annotations == nil {
			pvc.Annotations = map[string]string{}
		}
		pvc.Annotations[selectedNode] = node
		// Optimistic: a node agent that selected the claim meanwhile wins, and the pod is
		// decided again.
		if err := r.Patch(ctx, pvc, client.MergeFromWithOptions(orig, client.MergeFromWithOptimisticLock{})); err != nil {
			return fmt.Errorf("selecting node %s for persistentvolumeclaim %s: %w", node, claim.key, err)
		}
	}
	return nil
}
