package configsnapshot

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/tools/record"
	"sigs.k8s.io/controller-runtime/pkg/client"

	appsv1alpha1 "github.com/kybern/kybern/api/apps/v1alpha1"
)

// SnapshotFailedReason is the Warning event reason of a workload whose configuration
// could not be snapshotted.
const SnapshotFailedReason = "ConfigSnapshotFailed"

// Workload is a Deployment, StatefulSet or DaemonSet, as Resolve reads it.
type Workload struct {
	Object   client.Object
	GVK      schema.GroupVersionKind
	Policy   appsv1alpha1.ConfigPolicy
	Template *corev1.PodTemplateSpec
}

// Resolve returns the template w's spec.template stands for: itself under ConfigLive, or
// under ConfigSnapshot its copy that reads snapshots of the ConfigMaps and Secrets it
// references, so that an edit of one makes a new revision as a template change does; and
// the snapshots that copy reads. A failure is also a Warning event on w.
func (s *Snapshotter) Resolve(ctx context.Context, rec record.EventRecorder, w Workload) (*corev1.PodTemplateSpec, []Ref, error) {
	if w.Policy != appsv1alpha1.ConfigSnapshot {
		return w.Template, nil, nil
	}
	t, snaps, err := s.Template(ctx, w.Object.GetNamespace(), w.Template, ownerRef(w.Object, w.GVK))
	if err != nil {
		rec.Event(w.Object, corev1.EventTypeWarning, SnapshotFailedReason, err.Error())
		return nil, nil, err
	}
	return t, snaps, nil
}

// HandTo makes revision (of kind gvk: a ReplicaSet or a ControllerRevision) an owner of
// snaps in place of workload; see Own.
func (s *Snapshotter) HandTo(ctx context.Context, workload client.Object, snaps []Ref, revision client.Object, gvk schema.GroupVersionKind) error {
	if len(snaps) == 0 {
		return nil
	}
	return s.Own(ctx, workload.GetNamespace(), snaps, ownerRef(revision, gvk), workload.GetUID())
}

// ownerRef is a reference to obj of kind gvk that neither controls nor blocks.
func ownerRef(obj client.Object, gvk schema.GroupVersionKind) metav1.OwnerReference {
	return metav1.OwnerReference{APIVersion: gvk.GroupVersion().String(), Kind: gvk.Kind, Name: obj.GetName(), UID: obj.GetUID()}
}
