package v1alpha1

import (
	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
)

// SharedDirectoryProvisioner is the provisioner of StorageClasses whose claims are backed
// by a directory on a filesystem that every node mounts (NFS, CephFS, a cluster
// filesystem) at its agent's --shared-claim-dir: such a claim is not tied to a node, so
// its pods may run, and its data follows them, anywhere. A claim of any other class, or of
// none, is a directory on the node it is first used on.
const SharedDirectoryProvisioner = "kybern.io/shared-directory"

// SharedDirectoryClass reports whether claims of class are shared directories.
func SharedDirectoryClass(class *storagev1.StorageClass) bool {
	return class.Provisioner == SharedDirectoryProvisioner
}

// BoundStatus is the status of pvc once kybern has bound it: Bound, with its access modes
// and its requested storage as its capacity, as kybern provisions no PersistentVolume.
func BoundStatus(pvc *corev1.PersistentVolumeClaim) corev1.PersistentVolumeClaimStatus {
	status := corev1.PersistentVolumeClaimStatus{Phase: corev1.ClaimBound, AccessModes: pvc.Spec.AccessModes}
	if storage, ok := pvc.Spec.Resources.Requests[corev1.ResourceStorage]; ok {
		status.Capacity = corev1.ResourceList{corev1.ResourceStorage: storage}
	}
	return status
}
