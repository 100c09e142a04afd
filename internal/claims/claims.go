// Package claims is kybern's contract for PersistentVolumeClaims, shared by the manager
// and the node agents: which claims are shared directories, and what binding one writes.
package claims

import (
	"context"
	"encoding/json"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
)

// Shared reports whether pvc's StorageClass has provisioner
// corev1alpha1.SharedDirectoryProvisioner. A claim of no class, or of a class that does
// not exist, is node-local: kybern has no other provisioner to wait for.
func Shared(ctx context.Context, r client.Reader, pvc *corev1.PersistentVolumeClaim) (bool, error) {
	className := ptr.Deref(pvc.Spec.StorageClassName, "")
	if className == "" {
		return false, nil
	}
	class := &storagev1.StorageClass{}
	if err := r.Get(ctx, client.ObjectKey{Name: className}, class); err != nil {
		if apierrors.IsNotFound(err) {
			return false, nil
		}
		return false, fmt.Errorf("reading storageclass %q of persistentvolumeclaim %s/%s: %w", className, pvc.Namespace, pvc.Name, err)
	}
	return class.Provisioner == corev1alpha1.SharedDirectoryProvisioner, nil
}

// Bind sets pvc's status Bound, with its access modes and its requested storage as its
// capacity, as kybern provisions no PersistentVolume.
func Bind(ctx context.Context, c client.Client, pvc *corev1.PersistentVolumeClaim) error {
	status := corev1.PersistentVolumeClaimStatus{Phase: corev1.ClaimBound, AccessModes: pvc.Spec.AccessModes}
	if storage, ok := pvc.Spec.Resources.Requests[corev1.ResourceStorage]; ok {
		status.Capacity = corev1.ResourceList{corev1.ResourceStorage: storage}
	}
	body, err := json.Marshal(map[string]any{"status": status})
	if err != nil {
		return err
	}
	if err := c.Status().Patch(ctx, pvc, client.RawPatch(types.MergePatchType, body)); err != nil {
		return fmt.Errorf("binding persistentvolumeclaim %s/%s: %w", pvc.Namespace, pvc.Name, err)
	}
	return nil
}
