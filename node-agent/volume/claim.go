package volume

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kybern/kybern/internal/claims"
)

// +kubebuilder:rbac:groups=storage.k8s.io,resources=storageclasses,verbs=get

// SelectedNode is the PersistentVolumeClaim annotation naming the node a claim's data
// lives on, as upstream's scheduler sets it for WaitForFirstConsumer volumes. kybern's
// scheduler sets it when it places the first pod using the claim; a node agent sets it
// for a pod bound to its node without the scheduler.
const SelectedNode = "volume.kubernetes.io/selected-node"

// claim returns the directory backing the named PersistentVolumeClaim, kept when pods go:
// SharedClaimRoot/<claim uid> for a claim of a shared-directory class, which any node may
// use once the manager has bound it; otherwise ClaimRoot/<claim uid> on this node, where a
// claim selected for another node fails and an unselected one is claimed for this node,
// then reported Bound.
func (m *Manager) claim(ctx context.Context, namespace, name string) (string, error) {
	pvc := &corev1.PersistentVolumeClaim{}
	if err := m.Client.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, pvc); err != nil {
		if apierrors.IsNotFound(err) {
			return "", fmt.Errorf("persistentvolumeclaim %q not found", name)
		}
		return "", fmt.Errorf("reading persistentvolumeclaim %s/%s: %w", namespace, name, err)
	}
	if pvc.DeletionTimestamp != nil {
		return "", fmt.Errorf("persistentvolumeclaim %q is being deleted", name)
	}
	if !uuidPattern.MatchString(string(pvc.UID)) {
		return "", fmt.Errorf("persistentvolumeclaim %q has uid %q, which is not a UUID: refusing to make a path of it", name, pvc.UID)
	}
	shared, err := m.sharedClaim(ctx, pvc)
	if err != nil {
		return "", err
	}
	if shared {
		// The manager's shared-directory provisioner binds it, as upstream's volume
		// binder binds an Immediate claim before any pod uses it.
		if pvc.Status.Phase != corev1.ClaimBound {
			return "", fmt.Errorf("persistentvolumeclaim %q is not bound yet", pvc.Name)
		}
		return claimDir(m.SharedClaimRoot, pvc.UID)
	}
	if err := m.selectThisNode(ctx, pvc); err != nil {
		return "", err
	}
	dir, err := claimDir(m.ClaimRoot, pvc.UID)
	if err != nil {
		return "", err
	}
	if pvc.Status.Phase != corev1.ClaimBound {
		if err := claims.Bind(ctx, m.Client, pvc); err != nil {
			return "", err
		}
	}
	return dir, nil
}

// claimDir makes root/<uid>, writable by any user of the pods that mount it.
func claimDir(root string, uid types.UID) (string, error) {
	dir := filepath.Join(root, string(uid))
	if err := os.MkdirAll(dir, 0o777); err != nil {
		return "", err
	}
	return dir, os.Chmod(dir, 0o777)
}

// uuidPattern is the form of the UIDs the apiserver gives objects.
var uuidPattern = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

// sharedClaim reports whether pvc is a shared directory (claims.Shared), failing when it is
// and this node mounts no shared filesystem.
func (m *Manager) sharedClaim(ctx context.Context, pvc *corev1.PersistentVolumeClaim) (bool, error) {
	shared, err := claims.Shared(ctx, m.Client, pvc)
	if err != nil || !shared {
		return false, err
	}
	if m.SharedClaimRoot == "" {
		return false, fmt.Errorf("persistentvolumeclaim %q is of storageclass %q, a shared directory, but node %q has no shared filesystem: mount one on every node and start their agents with --shared-claim-dir", pvc.Name, *pvc.Spec.StorageClassName, m.NodeName)
	}
	return true, nil
}

// selectThisNode makes pvc this node's: it fails when the claim is selected for another
// node, and selects this one when none is.
func (m *Manager) selectThisNode(ctx context.Context, pvc *corev1.PersistentVolumeClaim) error {
	switch node := pvc.Annotations[SelectedNode]; node {
	case m.NodeName:
	case "":
		orig := pvc.DeepCopy()
		if pvc.Annotations == nil {
			pvc.Annotations = map[string]string{}
		}
		pvc.Annotations[SelectedNode] = m.NodeName
		// Optimistic: of two nodes claiming at once, one wins and the other fails below on
		// its retry.
		if err := m.Client.Patch(ctx, pvc, client.MergeFromWithOptions(orig, client.MergeFromWithOptimisticLock{})); err != nil {
			return fmt.Errorf("claiming persistentvolumeclaim %s/%s for node %s: %w", pvc.Namespace, pvc.Name, m.NodeName, err)
		}
	default:
		return fmt.Errorf("persistentvolumeclaim %q is bound to node %q, not %q: its data lives there", pvc.Name, node, m.NodeName)
	}
	return nil
}
