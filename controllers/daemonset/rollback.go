package daemonset

import (
	"fmt"
	"slices"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	appsv1alpha1 "github.com/kybern/kybern/api/apps/v1alpha1"
	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
	"github.com/kybern/kybern/controllers/internal/history"
	"github.com/kybern/kybern/controllers/internal/rollback"
)

// Automatic rollback (spec.rollbackPolicy). status.rollback.stableRevision names the
// ControllerRevision of the last rollout that completed. When a trigger fires for the
// revision of spec.template, its name becomes failedRevision, and while spec.template
// still records it the DaemonSet rolls the stable revision out instead, through the same
// rolling update (maxSurge, maxUnavailable) as any rollout. spec is never written.

// ReasonStableRevisionGone is the RolledBack=False reason when the stable revision of a
// rollback in force was deleted, so that spec.template rolls out again.
const ReasonStableRevisionGone = "StableRevisionGone"

// rollbackDecision is what spec.rollbackPolicy makes of one reconcile.
type rollbackDecision struct {
	// target is the revision the pods are rolled to: the one recording spec.template, or
	// the stable one while a rollback holds.
	target *appsv1.ControllerRevision
	// status is status.rollback as this reconcile leaves it; nil without a policy.
	status *appsv1alpha1.RollbackStatus
	// condition is the RolledBack condition to set; nil to remove it.
	condition *appsv1.DaemonSetCondition
	// started is the message of a rollback this reconcile decided; the reconcile records
	// it before acting on it, since one that read ds from before the record would judge
	// pods the rollback removed and roll the failed revision out again.
	started string
	// recheck is how soon a pod would cross the not-ready threshold; 0 for none.
	recheck time.Duration
}

// decideRollback judges ds's pods of cur, the revision of spec.template, given its other
// revisions old and the number of nodes that should run it, as of now.
func decideRollback(ds *appsv1alpha1.DaemonSet, cur *appsv1.ControllerRevision, old []*appsv1.ControllerRevision,
	pods []*corev1alpha1.Pod, desired int, now time.Time) rollbackDecision {
	d := rollbackDecision{target: cur}
	pol, on := rollback.Resolve(ds.Spec.RollbackPolicy)
	if !on {
		return d
	}
	st := ptr.Deref(ds.Status.Rollback, appsv1alpha1.RollbackStatus{})
	d.status = &st
	d.condition = rolledBackCondition(ds)
	stable := history.Named(st.StableRevision, cur, old)
	if st.FailedRevision != "" {
		switch {
		case st.FailedRevision != cur.Name:
			st.FailedRevision, d.condition = "", nil
		case stable == nil:
			st.FailedRevision = ""
			d.condition = newRolledBack(now, corev1.ConditionFalse, ReasonStableRevisionGone,
				fmt.Sprintf("Stable revision %s no longer exists; rolling out spec.template again", st.StableRevision))
		default:
			d.target = stable
			return d
		}
	}
	if stable == nil || stable.Name == cur.Name {
		return d
	}
	var curPods []*corev1alpha1.Pod
	for _, p := range pods {
		if p.Labels[RevisionHashLabel] == cur.Labels[RevisionHashLabel] {
			curPods = append(curPods, p)
		}
	}
	v := pol.Judge(curPods, now)
	d.recheck = v.Recheck
	if !pol.Exceeded(v.Failing, int32(desired)) {
		return d
	}
	st.FailedRevision = cur.Name
	d.started = rollback.Message(cur.Name, stable.Name, fmt.Sprintf("%d of %d pods failing; %s", v.Failing, desired, v.Detail))
	d.condition = newRolledBack(now, corev1.ConditionTrue, v.Reason, d.started)
	return d
}

// template is the pod template of the target revision: spec, the resolved template that
// cur records, or the stable revision's while a rollback holds.
func (d rollbackDecision) template(spec *corev1.PodTemplateSpec, cur *appsv1.ControllerRevision) (*corev1.PodTemplateSpec, error) {
	if d.target == cur {
		return spec, nil
	}
	return history.Template(d.target)
}

// apply writes the decision into status, recording cur as the stable revision once a
// rollout of spec.template is complete.
func (d rollbackDecision) apply(ds *appsv1alpha1.DaemonSet, cur *appsv1.ControllerRevision, status *appsv1alpha1.DaemonSetStatus) {
	status.Conditions = slices.DeleteFunc(status.Conditions, func(c appsv1.DaemonSetCondition) bool { return c.Type == appsv1alpha1.RolledBack })
	if d.condition != nil {
		status.Conditions = append(status.Conditions, *d.condition)
	}
	status.Rollback = nil
	if d.status == nil {
		return
	}
	st := *d.status
	if d.target == cur && d.started == "" && rolloutComplete(ds, status) {
		st.StableRevision = cur.Name
	}
	status.Rollback = &st
}

// rolloutComplete reports whether status, for ds's current generation, has every desired
// node running an updated, available pod and no pod where none belongs.
func rolloutComplete(ds *appsv1alpha1.DaemonSet, s *appsv1alpha1.DaemonSetStatus) bool {
	return s.ObservedGeneration == ds.Generation && s.DesiredNumberScheduled > 0 &&
		s.UpdatedNumberScheduled == s.DesiredNumberScheduled && s.NumberAvailable == s.DesiredNumberScheduled &&
		s.CurrentNumberScheduled == s.DesiredNumberScheduled && s.NumberMisscheduled == 0
}

// rollingBack reports whether a rollback holds for ds as read: its pods of the stable
// revision are then recognised by their revision hash alone.
func rollingBack(ds *appsv1alpha1.DaemonSet) bool {
	return ds.Status.Rollback != nil && ds.Status.Rollback.FailedRevision != ""
}

// keptByRollback reports whether history cleanup must keep rev.
func keptByRollback(ds *appsv1alpha1.DaemonSet, rev *appsv1.ControllerRevision) bool {
	st := ds.Status.Rollback
	return st != nil && (rev.Name == st.StableRevision || rev.Name == st.FailedRevision)
}

func rolledBackCondition(ds *appsv1alpha1.DaemonSet) *appsv1.DaemonSetCondition {
	for i := range ds.Status.Conditions {
		if c := ds.Status.Conditions[i]; c.Type == appsv1alpha1.RolledBack {
			return &c
		}
	}
	return nil
}

func newRolledBack(now time.Time, status corev1.ConditionStatus, reason, msg string) *appsv1.DaemonSetCondition {
	return &appsv1.DaemonSetCondition{Type: appsv1alpha1.RolledBack, Status: status, Reason: reason, Message: msg,
		LastTransitionTime: metav1.NewTime(now)}
}
