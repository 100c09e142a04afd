package agent

import (
	"time"

	corev1 "k8s.io/api/core/v1"

	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
)

// evictable is the agent's pods as the eviction manager sees them: those of its workers.
type evictable struct{ a *Agent }

// Active implements eviction.Pods.
func (e evictable) Active() []*corev1alpha1.Pod {
	e.a.mu.Lock()
	defer e.a.mu.Unlock()
	out := make([]*corev1alpha1.Pod, 0, len(e.a.workers))
	for _, w := range e.a.workers {
		pod := w.Pod()
		if pod.DeletionTimestamp != nil || pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
			continue
		}
		out = append(out, pod)
	}
	return out
}

// Evict implements eviction.Pods.
func (e evictable) Evict(pod *corev1alpha1.Pod, message string, grace time.Duration) bool {
	e.a.mu.Lock()
	w, ok := e.a.workers[pod.UID]
	e.a.mu.Unlock()
	return ok && w.Evict(message, grace)
}
