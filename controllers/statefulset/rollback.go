package statefulset

import (
	"context"
	"slices"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/log"

	appsv1alpha1 "github.com/kybern/kybern/api/apps/v1alpha1"
	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
	"github.com/kybern/kybern/controllers/internal/history"
	"github.com/kybern/kybern/controllers/internal/rollback"
)

// ReasonStableRevisionLost is the event reason of a rollback that cannot hold because the
// ControllerRevision status.rollback.stableRevision names is gone.
const ReasonStableRevisionLost = "StableRevisionLost"

// rollbackPlan is what automatic rollback (spec.rollbackPolicy) makes of one reconcile:
// the revision the rollout goes to, and what status.rollback and the RolledBack
// condition become.
type rollbackPlan struct {
	// target is the revision the pods from the partition on are rolled to, and the one
	// status.updateRevision names: the update revision (spec.template's), or the stable
	// revision while the update revision is the failed one.
	target *appsv1.ControllerRevision
	// pinned says that target is the stable revision in place of the failed one.
	pinned bool
	// status is status.rollback as this reconcile leaves it, bar the stable revision a
	// completed update records (see apply); nil while spec.rollbackPolicy is unset.
	status *appsv1alpha1.RollbackStatus
	// rolledBack is the RolledBack condition of a rollback this reconcile starts; nil
	// when it starts none.
	rolledBack *appsv1.StatefulSetCondition
	// lostStable names the stable revision found gone, "" when it was not.
	lostStable string
	// recheck is how soon a pod of the update revision crosses the not-ready threshold,
	// when the verdict may change with no event to tell; 0 when none will.
	recheck time.Duration
}

// planRollback decides, for set with the pods it controls, its update revision (the one
// recording spec.template) and its other revisions, as of now:
//   - without spec.rollbackPolicy, nothing: the update revision is the target and
//     status.rollback goes;
//   - while the update revision is status.rollback.failedRevision, the stable revision is
//     the target;
//   - once spec.template has moved on from the failed revision, failedRevision clears;
//   - an update revision other than the stable one whose pods fail the policy, more of
//     them than maxFailedPods allows of the pods the partition lets it have, becomes the
//     failed revision, and the stable one the target; rolledBack says so, for the
//     reconcile to record it before it acts on it.
//
// There is nothing to roll back to, and the update proceeds as without a policy, while no
// stable revision is known: before the first update completes, or once the stable
// revision's ControllerRevision is gone.
func planRollback(set *appsv1alpha1.StatefulSet, pods []*corev1alpha1.Pod, update *appsv1.ControllerRevision,
	old []*appsv1.ControllerRevision, now time.Time) rollbackPlan {
	rp := rollbackPlan{target: update}
	pol, on := rollback.Resolve(set.Spec.RollbackPolicy)
	if !on {
		return rp
	}
	st := ptr.Deref(set.Status.Rollback, appsv1alpha1.RollbackStatus{})
	rp.status = &st
	stable := history.Named(st.StableRevision, update, old)
	if stable == nil && st.StableRevision != "" {
		rp.lostStable, st.StableRevision = st.StableRevision, ""
	}
	if st.FailedRevision != update.Name || stable == nil {
		st.FailedRevision = ""
	}
	switch {
	case st.FailedRevision != "":
		rp.target, rp.pinned = stable, true
		return rp
	case stable == nil || stable.Name == update.Name:
		return rp
	}
	v := pol.Judge(revisionPods(pods, update.Name), now)
	rp.recheck = v.Recheck
	if !pol.Exceeded(v.Failing, desiredUpdated(set)) {
		return rp
	}
	st.FailedRevision = update.Name
	rp.target, rp.pinned = stable, true
	rp.rolledBack = &appsv1.StatefulSetCondition{
		Type:               appsv1alpha1.RolledBack,
		Status:             corev1.ConditionTrue,
		LastTransitionTime: metav1.NewTime(now),
		Reason:             v.Reason,
		Message:            rollback.Message(update.Name, stable.Name, v.Detail),
	}
	return rp
}

// reportRollback tells, once status records it, what rp changed for set, whose update
// revision is update: a rollback it started, or a stable revision found gone, which
// leaves nothing to roll back to and ends a rollback that held. Reported only once
// recorded, a decision that a conflicting write discarded and a later reconcile takes
// again is reported once.
func (r *Reconciler) reportRollback(ctx context.Context, set *appsv1alpha1.StatefulSet, update *appsv1.ControllerRevision, rp rollbackPlan) {
	if rp.lostStable != "" {
		r.Recorder.Eventf(set, corev1.EventTypeWarning, ReasonStableRevisionLost,
			"ControllerRevision %s of status.rollback.stableRevision is gone: there is no revision to roll back to, and update revision %s rolls out",
			rp.lostStable, update.Name)
	}
	if c := rp.rolledBack; c != nil {
		log.FromContext(ctx).Info("Rolling back a failed update", "failedRevision", update.Name,
			"stableRevision", rp.target.Name, "reason", c.Reason)
		r.Recorder.Event(set, corev1.EventTypeWarning, appsv1alpha1.RolledBack, c.Message)
	}
}

// apply writes rp into status, which calculateStatus computed for set: status.rollback,
// with the update revision as the stable one once the update is complete, and the
// RolledBack condition, there while a rollback holds and gone otherwise.
func (rp rollbackPlan) apply(set *appsv1alpha1.StatefulSet, status *appsv1alpha1.StatefulSetStatus) {
	status.Rollback = nil
	if rp.status != nil {
		st := *rp.status
		if updateComplete(set, &status.StatefulSetStatus) {
			st.StableRevision = status.UpdateRevision
		}
		status.Rollback = &st
	}
	switch {
	case rp.rolledBack != nil:
		status.Conditions = append(withoutRolledBack(status.Conditions), *rp.rolledBack)
	case !rp.pinned:
		status.Conditions = withoutRolledBack(status.Conditions)
	}
}

// updateComplete reports whether s, set's status for its current generation, has every
// replica, at least one, at the update revision, ready and available.
func updateComplete(set *appsv1alpha1.StatefulSet, s *appsv1.StatefulSetStatus) bool {
	return s.ObservedGeneration == set.Generation && s.CurrentRevision == s.UpdateRevision &&
		s.Replicas > 0 && s.Replicas == int32(replicas(set)) && s.UpdatedReplicas == s.Replicas &&
		s.ReadyReplicas == s.Replicas && s.AvailableReplicas == s.Replicas
}

// desiredUpdated is how many pods the update revision is to have: those of the ordinal
// indexes from the partition on.
func desiredUpdated(set *appsv1alpha1.StatefulSet) int32 {
	if !rollingUpdate(set) {
		return int32(replicas(set))
	}
	return int32(max(replicas(set)-partition(set), 0))
}

// revisionPods are the pods of pods made from the revision named revision.
func revisionPods(pods []*corev1alpha1.Pod, revision string) []*corev1alpha1.Pod {
	var out []*corev1alpha1.Pod
	for _, p := range pods {
		if p.Labels[RevisionHashLabel] == revision {
			out = append(out, p)
		}
	}
	return out
}

func withoutRolledBack(conditions []appsv1.StatefulSetCondition) []appsv1.StatefulSetCondition {
	return slices.DeleteFunc(conditions, func(c appsv1.StatefulSetCondition) bool { return c.Type == appsv1alpha1.RolledBack })
}
