// Package podutil answers the questions every workload controller asks of a pod, with
// upstream's definitions of ready, available and active.
package podutil

import (
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
)

// IsActive reports whether a pod still counts toward its controller's replicas: not
// succeeded, not failed, and not being deleted.
func IsActive(p *corev1alpha1.Pod) bool {
	return p.Status.Phase != corev1.PodSucceeded && p.Status.Phase != corev1.PodFailed && p.DeletionTimestamp == nil
}

// IsTerminating reports whether a pod is being deleted but has not yet terminated.
func IsTerminating(p *corev1alpha1.Pod) bool {
	return p.DeletionTimestamp != nil && p.Status.Phase != corev1.PodSucceeded && p.Status.Phase != corev1.PodFailed
}

// ReadyCondition is the pod's Ready condition, or nil.
func ReadyCondition(p *corev1alpha1.Pod) *corev1.PodCondition {
	for i := range p.Status.Conditions {
		if p.Status.Conditions[i].Type == corev1.PodReady {
			return &p.Status.Conditions[i]
		}
	}
	return nil
}

// IsReady reports whether the pod's Ready condition is True.
func IsReady(p *corev1alpha1.Pod) bool {
	c := ReadyCondition(p)
	return c != nil && c.Status == corev1.ConditionTrue
}

// IsAvailable reports whether the pod has been ready for more than minReadySeconds at now.
func IsAvailable(p *corev1alpha1.Pod, minReadySeconds int32, now time.Time) bool {
	at, ok := AvailableAt(p, minReadySeconds)
	return ok && (minReadySeconds == 0 || at.Before(now))
}

// AvailableAt is when a ready pod becomes available: minReadySeconds after it became ready.
// ok is false for a pod that is not ready, or that never says when it became ready while
// minReadySeconds asks for a wait, as upstream never counts such a pod available.
func AvailableAt(p *corev1alpha1.Pod, minReadySeconds int32) (at time.Time, ok bool) {
	c := ReadyCondition(p)
	if c == nil || c.Status != corev1.ConditionTrue {
		return time.Time{}, false
	}
	if minReadySeconds == 0 {
		return c.LastTransitionTime.Time, true
	}
	if c.LastTransitionTime.IsZero() {
		return time.Time{}, false
	}
	return c.LastTransitionTime.Add(time.Duration(minReadySeconds) * time.Second), true
}

// MaxRestarts is the highest restart count among the pod's containers.
func MaxRestarts(p *corev1alpha1.Pod) int32 {
	var n int32
	for _, c := range p.Status.ContainerStatuses {
		n = max(n, c.RestartCount)
	}
	return n
}

// ReadyTime is when the pod last became ready, or zero for a pod that is not ready.
func ReadyTime(p *corev1alpha1.Pod) metav1.Time {
	if c := ReadyCondition(p); c != nil && c.Status == corev1.ConditionTrue {
		return c.LastTransitionTime
	}
	return metav1.Time{}
}
