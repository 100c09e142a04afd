package podworker

import (
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
)

// Eviction's pod status, as upstream's kubelet reports a pod it evicted.
const (
	ReasonEvicted = "Evicted"
	// ReasonTerminationByKubelet is the DisruptionTarget condition's reason.
	ReasonTerminationByKubelet = "TerminationByKubelet"
)

// Evict stops the pod for node-pressure eviction and reports it Failed with reason
// Evicted, message and a DisruptionTarget condition, recording an Evicted Warning event,
// as the kubelet's eviction manager does; its containers get grace to stop, or their own
// grace period when shorter. It returns false, doing nothing, for a pod already evicted.
func (w *Worker) Evict(message string, grace time.Duration) bool {
	w.mu.Lock()
	if w.evicted != "" {
		w.mu.Unlock()
		return false
	}
	w.evicted, w.evictGrace = message, grace
	w.mu.Unlock()
	w.log.Info("Evicting pod", "message", message)
	w.podEvent(w.Pod(), corev1.EventTypeWarning, ReasonEvicted, "%s", message)
	w.Poke()
	return true
}

// Pod is the newest version of the worker's pod.
func (w *Worker) Pod() *corev1alpha1.Pod {
	pod, _ := w.snapshot()
	return pod
}

// stopGrace is grace, or the eviction's grace if shorter for an evicted pod.
func (w *Worker) stopGrace(grace time.Duration) time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.evicted != "" {
		return min(grace, w.evictGrace)
	}
	return grace
}

func (w *Worker) evictedMessage() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.evicted
}

// withEviction is s as an evicted pod reports it.
func (w *Worker) withEviction(s corev1.PodStatus) corev1.PodStatus {
	msg := w.evictedMessage()
	if msg == "" {
		return s
	}
	s.Phase, s.Reason, s.Message = corev1.PodFailed, ReasonEvicted, msg
	cond := corev1.PodCondition{Type: corev1.DisruptionTarget, Status: corev1.ConditionTrue, Reason: ReasonTerminationByKubelet,
		Message: msg, LastTransitionTime: metav1.NewTime(w.env.Clock.Now())}
	for i, c := range s.Conditions {
		if c.Type == corev1.DisruptionTarget {
			s.Conditions[i] = cond
			return s
		}
	}
	s.Conditions = append(s.Conditions, cond)
	return s
}
