package deployment

import (
	"fmt"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"

	appsv1alpha1 "github.com/kybern/kybern/api/apps/v1alpha1"
)

// Reasons of the Deployment conditions, as upstream's.
const (
	NewReplicaSetReason          = "NewReplicaSetCreated"
	FoundNewRSReason             = "FoundNewReplicaSet"
	FailedRSCreateReason         = "ReplicaSetCreateError"
	ReplicaSetUpdatedReason      = "ReplicaSetUpdated"
	NewRSAvailableReason         = "NewReplicaSetAvailable"
	TimedOutReason               = "ProgressDeadlineExceeded"
	PausedDeployReason           = "DeploymentPaused"
	ResumedDeployReason          = "DeploymentResumed"
	MinimumReplicasAvailable     = "MinimumReplicasAvailable"
	MinimumReplicasUnavailable   = "MinimumReplicasUnavailable"
	FailedReplicaSetCreateReason = "FailedCreate"
)

// calculateStatus is the Deployment's status given its ReplicaSets: counts summed over
// them, updatedReplicas from the new one, and the Available condition, which holds while
// at least spec.replicas − maxUnavailable pods are available. Other conditions carry over.
func calculateStatus(d *appsv1alpha1.Deployment, all []*appsv1alpha1.ReplicaSet, newRS *appsv1alpha1.ReplicaSet, now time.Time) appsv1alpha1.DeploymentStatus {
	status := *d.Status.DeepCopy()
	var replicas, specReplicas, ready, available, terminating int32
	for _, rs := range all {
		replicas += rs.Status.Replicas
		specReplicas += rsReplicas(rs)
		ready += rs.Status.ReadyReplicas
		available += rs.Status.AvailableReplicas
		terminating += ptr.Deref(rs.Status.TerminatingReplicas, 0)
	}
	status.ObservedGeneration = d.Generation
	status.Replicas = replicas
	status.UpdatedReplicas = 0
	if newRS != nil {
		status.UpdatedReplicas = newRS.Status.Replicas
	}
	status.ReadyReplicas = ready
	status.AvailableReplicas = available
	status.UnavailableReplicas = max(specReplicas-available, 0)
	status.TerminatingReplicas = ptr.To(terminating)
	if sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector); err == nil {
		status.LabelSelector = sel.String()
	}

	if available >= replicasOf(d)-maxUnavailable(d) {
		setCondition(&status, appsv1.DeploymentAvailable, corev1.ConditionTrue, MinimumReplicasAvailable, "Deployment has minimum availability.", now)
	} else {
		setCondition(&status, appsv1.DeploymentAvailable, corev1.ConditionFalse, MinimumReplicasUnavailable, "Deployment does not have minimum availability.", now)
	}
	syncReplicaFailure(&status, all)
	return status
}

// syncReplicaFailure mirrors the first ReplicaFailure of the ReplicaSets onto the
// Deployment, and clears it when none has one.
func syncReplicaFailure(status *appsv1alpha1.DeploymentStatus, all []*appsv1alpha1.ReplicaSet) {
	for _, rs := range all {
		for _, c := range rs.Status.Conditions {
			if c.Type == appsv1.ReplicaSetReplicaFailure && c.Status == corev1.ConditionTrue {
				setCondition(status, appsv1.DeploymentReplicaFailure, c.Status, c.Reason, c.Message, c.LastTransitionTime.Time)
				return
			}
		}
	}
	removeCondition(status, appsv1.DeploymentReplicaFailure)
}

// progress sets the Progressing condition as upstream does and returns when to look again
// for the progress deadline. Unless the rollout was already seen complete:
//   - complete (every replica updated and available, nothing old left): True,
//     NewReplicaSetAvailable;
//   - something moved since the last status: True, ReplicaSetUpdated, and the deadline
//     starts again;
//   - nothing moved for progressDeadlineSeconds: False, ProgressDeadlineExceeded.
func (s *syncer) progress(status *appsv1alpha1.DeploymentStatus, newRS *appsv1alpha1.ReplicaSet) ctrl.Result {
	d := s.d
	if d.Spec.ProgressDeadlineSeconds == nil {
		removeCondition(status, appsv1.DeploymentProgressing)
		return ctrl.Result{}
	}
	now := s.Clock.Now()
	name := ""
	if newRS != nil {
		name = newRS.Name
	}
	cur := conditionOf(status, appsv1.DeploymentProgressing)
	if status.Replicas != status.UpdatedReplicas || cur == nil || cur.Reason != NewRSAvailableReason {
		switch {
		case complete(d, status):
			setCondition(status, appsv1.DeploymentProgressing, corev1.ConditionTrue, NewRSAvailableReason,
				fmt.Sprintf("ReplicaSet %q has successfully progressed.", name), now)
		case progressed(status, &s.origStatus):
			// Progress moves lastUpdateTime even when the reason stays the same.
			removeCondition(status, appsv1.DeploymentProgressing)
			setCondition(status, appsv1.DeploymentProgressing, corev1.ConditionTrue, ReplicaSetUpdatedReason,
				fmt.Sprintf("ReplicaSet %q is progressing.", name), now)
			if cur != nil && cur.Status == corev1.ConditionTrue {
				conditionOf(status, appsv1.DeploymentProgressing).LastTransitionTime = cur.LastTransitionTime
			}
		case timedOut(d, status, now):
			setCondition(status, appsv1.DeploymentProgressing, corev1.ConditionFalse, TimedOutReason,
				fmt.Sprintf("ReplicaSet %q has timed out progressing.", name), now)
			if cur == nil || cur.Reason != TimedOutReason {
				s.Recorder.Eventf(d, corev1.EventTypeWarning, TimedOutReason, "Deployment %q has timed out progressing.", d.Name)
			}
		}
	}
	cur = conditionOf(status, appsv1.DeploymentProgressing)
	if cur == nil || complete(d, status) || cur.Reason == TimedOutReason {
		return ctrl.Result{}
	}
	deadline := cur.LastUpdateTime.Add(time.Duration(*d.Spec.ProgressDeadlineSeconds) * time.Second)
	return ctrl.Result{RequeueAfter: max(deadline.Sub(now), 0) + time.Second}
}

// complete reports whether every replica is updated and available and no old pod is left.
func complete(d *appsv1alpha1.Deployment, s *appsv1alpha1.DeploymentStatus) bool {
	return s.UpdatedReplicas == replicasOf(d) && s.Replicas == replicasOf(d) &&
		s.AvailableReplicas == replicasOf(d) && s.ObservedGeneration >= d.Generation
}

// progressed reports whether the rollout moved between two statuses: more updated, ready
// or available pods, or fewer old ones.
func progressed(cur, old *appsv1alpha1.DeploymentStatus) bool {
	return cur.UpdatedReplicas > old.UpdatedReplicas ||
		cur.Replicas-cur.UpdatedReplicas < old.Replicas-old.UpdatedReplicas ||
		cur.ReadyReplicas > old.ReadyReplicas || cur.AvailableReplicas > old.AvailableReplicas
}

// timedOut reports whether progressDeadlineSeconds passed since the rollout last moved.
func timedOut(d *appsv1alpha1.Deployment, s *appsv1alpha1.DeploymentStatus, now time.Time) bool {
	cond := conditionOf(s, appsv1.DeploymentProgressing)
	switch {
	case cond == nil || cond.Reason == NewRSAvailableReason:
		return false
	case cond.Reason == TimedOutReason:
		return true
	}
	return cond.LastUpdateTime.Add(time.Duration(*d.Spec.ProgressDeadlineSeconds) * time.Second).Before(now)
}

// checkPausedConditions records a pause or a resume in the Progressing condition.
func (s *syncer) checkPausedConditions() {
	cond := progressingCondition(s.d)
	if cond != nil && cond.Reason == TimedOutReason {
		return
	}
	pausedRecorded := cond != nil && cond.Reason == PausedDeployReason
	switch {
	case s.d.Spec.Paused && !pausedRecorded:
		s.setCondition(appsv1.DeploymentProgressing, corev1.ConditionUnknown, PausedDeployReason, "Deployment is paused")
	case !s.d.Spec.Paused && pausedRecorded:
		s.setCondition(appsv1.DeploymentProgressing, corev1.ConditionUnknown, ResumedDeployReason, "Deployment is resumed")
	}
}

func progressingCondition(d *appsv1alpha1.Deployment) *appsv1.DeploymentCondition {
	return conditionOf(&d.Status, appsv1.DeploymentProgressing)
}

func (s *syncer) setCondition(t appsv1.DeploymentConditionType, st corev1.ConditionStatus, reason, msg string) {
	setCondition(&s.d.Status, t, st, reason, msg, s.Clock.Now())
}

func conditionOf(s *appsv1alpha1.DeploymentStatus, t appsv1.DeploymentConditionType) *appsv1.DeploymentCondition {
	for i := range s.Conditions {
		if s.Conditions[i].Type == t {
			return &s.Conditions[i]
		}
	}
	return nil
}

// setCondition sets a condition as upstream does: one with the same status and reason is
// left as it is, and a changed reason keeps the transition time of an unchanged status.
func setCondition(s *appsv1alpha1.DeploymentStatus, t appsv1.DeploymentConditionType, st corev1.ConditionStatus, reason, msg string, now time.Time) {
	c := conditionOf(s, t)
	if c != nil && c.Status == st && c.Reason == reason {
		return
	}
	n := appsv1.DeploymentCondition{Type: t, Status: st, Reason: reason, Message: msg,
		LastUpdateTime: metav1.NewTime(now), LastTransitionTime: metav1.NewTime(now)}
	if c != nil {
		if c.Status == st {
			n.LastTransitionTime = c.LastTransitionTime
		}
		*c = n
		return
	}
	s.Conditions = append(s.Conditions, n)
}

func removeCondition(s *appsv1alpha1.DeploymentStatus, t appsv1.DeploymentConditionType) {
	var kept []appsv1.DeploymentCondition
	for _, c := range s.Conditions {
		if c.Type != t {
			kept = append(kept, c)
		}
	}
	s.Conditions = kept
}
