package deployment

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	appsv1alpha1 "github.com/kybern/kybern/api/apps/v1alpha1"
	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
)

// rolloutRecreate takes one step of a recreate rollout: scale every old ReplicaSet to 0,
// wait until none of their pods runs, then create and grow the new one.
func (s *syncer) rolloutRecreate(ctx context.Context) (ctrl.Result, error) {
	newRS, old, err := s.split(ctx, false)
	if err != nil {
		return ctrl.Result{}, s.finishWithError(ctx, err)
	}
	scaledDown := false
	for _, rs := range old {
		if rsReplicas(rs) == 0 {
			continue
		}
		if _, err := s.scaleReplicaSet(ctx, rs, 0); err != nil {
			return ctrl.Result{}, s.finishWithError(ctx, err)
		}
		scaledDown = true
	}
	if scaledDown {
		return s.finish(ctx, newRS, true)
	}
	running, err := s.oldPodsRunning(ctx, newRS, old)
	if err != nil {
		return ctrl.Result{}, s.finishWithError(ctx, err)
	}
	if running {
		return s.finish(ctx, newRS, true)
	}
	if newRS == nil {
		if newRS, old, err = s.split(ctx, true); err != nil {
			return ctrl.Result{}, s.finishWithError(ctx, err)
		}
	}
	if _, err := s.scaleReplicaSet(ctx, newRS, replicasOf(s.d)); err != nil {
		return ctrl.Result{}, s.finishWithError(ctx, err)
	}
	if complete(s.d, ptrTo(calculateStatus(s.d, s.rsList, newRS, s.Clock.Now()))) {
		if err := s.cleanup(ctx, old); err != nil {
			return ctrl.Result{}, s.finishWithError(ctx, err)
		}
	}
	return s.finish(ctx, newRS, true)
}

// oldPodsRunning reports whether any pod of an old ReplicaSet may still run: the old
// ReplicaSets still count pods, or a pod of theirs has not reached a terminal phase.
func (s *syncer) oldPodsRunning(ctx context.Context, newRS *appsv1alpha1.ReplicaSet, old []*appsv1alpha1.ReplicaSet) (bool, error) {
	oldUIDs := map[types.UID]bool{}
	for _, rs := range old {
		if rs.Status.Replicas > 0 {
			return true, nil
		}
		oldUIDs[rs.UID] = true
	}
	var pods corev1alpha1.PodList
	if err := s.List(ctx, &pods, client.InNamespace(s.d.Namespace), client.UnsafeDisableDeepCopy); err != nil {
		return false, err
	}
	for i := range pods.Items {
		p := &pods.Items[i]
		ref := metav1.GetControllerOfNoCopy(p)
		if ref == nil || !oldUIDs[ref.UID] || (newRS != nil && ref.UID == newRS.UID) {
			continue
		}
		if p.Status.Phase != corev1.PodSucceeded && p.Status.Phase != corev1.PodFailed {
			return true, nil
		}
	}
	return false, nil
}
