package replicaset

import (
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/utils/ptr"

	appsv1alpha1 "github.com/kybern/kybern/api/apps/v1alpha1"
	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
	"github.com/kybern/kybern/controllers/internal/podutil"
)

// Reasons of the ReplicaFailure condition, as upstream's.
const (
	ReasonFailedCreate = "FailedCreate"
	ReasonFailedDelete = "FailedDelete"
)

// calculateStatus is the status rs should have given its active pods, the number of its
// pods being deleted, and the error of this reconcile's creates or deletes.
func calculateStatus(rs *appsv1alpha1.ReplicaSet, pods []*corev1alpha1.Pod, terminating int32, manageErr error, now time.Time) appsv1alpha1.ReplicaSetStatus {
	status := *rs.Status.DeepCopy()
	templateLabels := labels.Set(rs.Spec.Template.Labels).AsSelectorPreValidated()
	var fullyLabeled, ready, available int32
	for _, p := range pods {
		if templateLabels.Matches(labels.Set(p.Labels)) {
			fullyLabeled++
		}
		if podutil.IsReady(p) {
			ready++
			if podutil.IsAvailable(p, rs.Spec.MinReadySeconds, now) {
				available++
			}
		}
	}
	status.Replicas = int32(len(pods))
	status.FullyLabeledReplicas = fullyLabeled
	status.ReadyReplicas = ready
	status.AvailableReplicas = available
	status.TerminatingReplicas = ptr.To(terminating)
	status.ObservedGeneration = rs.Generation
	if sel, err := metav1.LabelSelectorAsSelector(rs.Spec.Selector); err == nil {
		status.LabelSelector = sel.String()
	}

	failure := condition(status.Conditions, appsv1.ReplicaSetReplicaFailure)
	switch {
	case manageErr != nil && failure == nil:
		reason := ReasonFailedCreate
		if len(pods) > int(replicas(rs)) {
			reason = ReasonFailedDelete
		}
		status.Conditions = append(status.Conditions, appsv1.ReplicaSetCondition{
			Type:               appsv1.ReplicaSetReplicaFailure,
			Status:             corev1.ConditionTrue,
			LastTransitionTime: metav1.NewTime(now),
			Reason:             reason,
			Message:            manageErr.Error(),
		})
	case manageErr == nil && failure != nil:
		var kept []appsv1.ReplicaSetCondition
		for _, c := range status.Conditions {
			if c.Type != appsv1.ReplicaSetReplicaFailure {
				kept = append(kept, c)
			}
		}
		status.Conditions = kept
	}
	return status
}

func condition(conds []appsv1.ReplicaSetCondition, t appsv1.ReplicaSetConditionType) *appsv1.ReplicaSetCondition {
	for i := range conds {
		if conds[i].Type == t {
			return &conds[i]
		}
	}
	return nil
}

// replicas is spec.replicas, 1 when unset as upstream defaults it.
func replicas(rs *appsv1alpha1.ReplicaSet) int32 {
	return ptr.Deref(rs.Spec.Replicas, 1)
}

// nextAvailable is how long until the first ready pod that is not yet available becomes
// available, so that the status can be refreshed then; ok is false when there is none.
func nextAvailable(rs *appsv1alpha1.ReplicaSet, pods []*corev1alpha1.Pod, now time.Time) (wait time.Duration, ok bool) {
	if rs.Spec.MinReadySeconds == 0 {
		return 0, false
	}
	for _, p := range pods {
		at, ready := podutil.AvailableAt(p, rs.Spec.MinReadySeconds)
		if !ready || at.Before(now) {
			continue
		}
		// Available means strictly after; wake just past it.
		if d := at.Sub(now) + time.Second; !ok || d < wait {
			wait, ok = d, true
		}
	}
	return wait, ok
}
