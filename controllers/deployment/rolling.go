package deployment

import (
	"context"
	"sort"

	ctrl "sigs.k8s.io/controller-runtime"

	appsv1alpha1 "github.com/kybern/kybern/api/apps/v1alpha1"
)

// rolloutRolling takes one step of a rolling update: grow the new ReplicaSet within
// maxSurge, or else shrink the old ones within maxUnavailable; once complete, trim the
// history.
func (s *syncer) rolloutRolling(ctx context.Context) (ctrl.Result, error) {
	newRS, old, err := s.split(ctx, true)
	if err != nil {
		return ctrl.Result{}, s.finishWithError(ctx, err)
	}
	all := append(append([]*appsv1alpha1.ReplicaSet{}, old...), newRS)

	scaledUp, err := s.reconcileNewRS(ctx, all, newRS)
	if err != nil {
		return ctrl.Result{}, s.finishWithError(ctx, err)
	}
	if scaledUp {
		return s.finish(ctx, newRS, true)
	}
	scaledDown, err := s.reconcileOldRSs(ctx, all, old, newRS)
	if err != nil {
		return ctrl.Result{}, s.finishWithError(ctx, err)
	}
	if scaledDown {
		return s.finish(ctx, newRS, true)
	}
	if complete(s.d, ptrTo(calculateStatus(s.d, s.rsList, newRS, s.Clock.Now()))) {
		if err := s.cleanup(ctx, old); err != nil {
			return ctrl.Result{}, s.finishWithError(ctx, err)
		}
	}
	return s.finish(ctx, newRS, true)
}

func ptrTo[T any](v T) *T { return &v }

// reconcileNewRS grows (or, past spec.replicas, shrinks) the new ReplicaSet.
func (s *syncer) reconcileNewRS(ctx context.Context, all []*appsv1alpha1.ReplicaSet, newRS *appsv1alpha1.ReplicaSet) (bool, error) {
	want := replicasOf(s.d)
	switch {
	case rsReplicas(newRS) == want:
		return false, nil
	case rsReplicas(newRS) > want:
		return s.scaleReplicaSet(ctx, newRS, want)
	}
	return s.scaleReplicaSet(ctx, newRS, newRSReplicas(s.d, all, newRS))
}

// reconcileOldRSs shrinks the old ReplicaSets as far as availability allows.
//
// Example: 10 replicas, maxUnavailable 2 (so at least 8 available), maxSurge 3. The old
// ReplicaSet has 10 pods and the new one 3, none of them available yet. At most
// 13 − 8 − 3 = 2 old pods may go: the 3 unavailable new ones already eat into the budget.
// Unhealthy old pods go first, since removing them costs no availability.
func (s *syncer) reconcileOldRSs(ctx context.Context, all, old []*appsv1alpha1.ReplicaSet, newRS *appsv1alpha1.ReplicaSet) (bool, error) {
	var oldPods int32
	for _, rs := range old {
		oldPods += rsReplicas(rs)
	}
	if oldPods == 0 {
		return false, nil
	}
	var allPods int32
	for _, rs := range all {
		allPods += rsReplicas(rs)
	}
	minAvailable := replicasOf(s.d) - maxUnavailable(s.d)
	newUnavailable := rsReplicas(newRS) - availableBound(newRS)
	budget := allPods - minAvailable - newUnavailable
	if budget <= 0 {
		return false, nil
	}
	sort.SliceStable(old, func(i, j int) bool { return olderRS(old[i], old[j]) })
	cleaned, err := s.cleanupUnhealthy(ctx, old, budget)
	if err != nil {
		return false, err
	}
	scaled, err := s.scaleDownOld(ctx, all, old, minAvailable)
	return cleaned+scaled > 0, err
}

// cleanupUnhealthy removes up to budget unavailable pods from the old ReplicaSets, oldest
// ReplicaSet first, and returns how many it removed.
func (s *syncer) cleanupUnhealthy(ctx context.Context, old []*appsv1alpha1.ReplicaSet, budget int32) (int32, error) {
	return s.shrinkOld(ctx, old, budget, func(rs *appsv1alpha1.ReplicaSet) int32 { return rsReplicas(rs) - availableBound(rs) })
}

// scaleDownOld removes available old pods, oldest ReplicaSet first, while more than
// minAvailable pods stay available, and returns how many it removed.
func (s *syncer) scaleDownOld(ctx context.Context, all, old []*appsv1alpha1.ReplicaSet, minAvailable int32) (int32, error) {
	var available int32
	for _, rs := range all {
		available += availableBound(rs)
	}
	if available <= minAvailable {
		return 0, nil
	}
	return s.shrinkOld(ctx, old, available-minAvailable, rsReplicas)
}

// shrinkOld removes up to budget pods from the old ReplicaSets, oldest first, at most
// removable(rs) from each, and returns how many it removed.
func (s *syncer) shrinkOld(ctx context.Context, old []*appsv1alpha1.ReplicaSet, budget int32, removable func(*appsv1alpha1.ReplicaSet) int32) (int32, error) {
	var removed int32
	for _, rs := range old {
		if removed >= budget {
			break
		}
		n := min(removable(rs), budget-removed)
		if rsReplicas(rs) == 0 || n <= 0 {
			continue
		}
		if _, err := s.scaleReplicaSet(ctx, rs, rsReplicas(rs)-n); err != nil {
			return removed, err
		}
		removed += n
	}
	return removed, nil
}
