package volume

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// SelectedNode is the PersistentVolumeClaim annotation naming the node a claim's data
// lives on, as upstream's scheduler sets it for WaitForFirstConsumer volumes. kybern's
// scheduler sets it when it places the first pod using the claim; a node agent sets it
// for a pod bound to its node without the scheduler.
const SelectedNode = "volume.kubernetes.io/selected-node"

// claim returns the directory backing the named PersistentVolumeClaim on this node:
// ClaimRoot/<claim uid>, kept when pods go. A claim selected for another node fails; an
// unselected one is claimed for this node. The claim is then reported Bound, with its
// requested storage as capacity.
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
			return "", fmt.Errorf("claiming persistentvolumeclaim %s/%s for node %s: %w", namespace, name, m.NodeName, err)
		}
	default:
		return "", fmt.Errorf("persistentvolumeclaim %q is bound to node %q, not %q: its data lives there", name, node, m.NodeName)
	}
	dir := filepath.Join(m.ClaimRoot, string(pvc.UID))
	if err := os.MkdirAll(dir, 0o777); err != nil {
		return "", err
	}
	if err := os.Chmod(dir, 0o777); err != nil {
		return "", err
	}
	if pvc.Status.Phase != corev1.ClaimBound {
		if err := m.reportBound(ctx, pvc); err != nil {
			return "", err
		}
	}
	return dir, nil
}

// reportBound sets the claim's status Bound, with its access modes and requested storage.
func (m *Manager) reportBound(ctx context.Context, pvc *corev1.PersistentVolumeClaim) error {
	status := corev1.PersistentVolumeClaimStatus{Phase: corev1.ClaimBound, AccessModes: pvc.Spec.AccessModes}
	if storage, ok := pvc.Spec.Resources.Requests[corev1.ResourceStorage]; ok {
		status.Capacity = corev1.ResourceList{corev1.ResourceStorage: storage}
	}
	body, err := json.Marshal(map[string]any{"status": status})
	if err != nil {
		return err
	}
	if err := m.Client.Status().Patch(ctx, pvc, client.RawPatch(types.MergePatchType, body)); err != nil {
		return fmt.Errorf("reporting persistentvolumeclaim %s/%s bound: %w", pvc.Namespace, pvc.Name, err)
	}
	return nil
}
