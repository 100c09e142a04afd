package scheduler

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
)

// podsOn returns how many pods the cache counts against node, after lapsed assumptions
// are dropped at now.
func podsOn(c *cache, node string, now time.Time) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, ni := range c.candidates(now) {
		if ni.node != nil && ni.node.Name == node {
			return len(ni.pods)
		}
	}
	return -1
}

func boundPod(uid, node string) *corev1alpha1.Pod {
	p := pod("100m")
	p.UID, p.Name, p.Spec.NodeName = types.UID(uid), uid, node
	return p
}

func TestCacheCountsEachPodOnce(t *testing.T) {
	now := time.Unix(1000, 0)
	steps := []struct {
		name string
		do   func(c *cache)
		want int
	}{
		{"an assumed bind counts", func(c *cache) {
			p := boundPod("a", "")
			c.mu.Lock()
			c.assume(p.UID, p, "n1", now)
			c.mu.Unlock()
		}, 1},
		{"the informer confirming it does not count it twice", func(c *cache) { c.setPod(boundPod("a", "n1")) }, 1},
		{"a reservation counts", func(c *cache) {
			c.mu.Lock()
			c.assume("reservation-1", boundPod("", ""), "n1", now)
			c.mu.Unlock()
		}, 2},
		{"the informer showing the created pod first counts it beside the reservation", func(c *cache) { c.setPod(boundPod("b", "n1")) }, 3},
		{"the create's result then drops the reservation", func(c *cache) { c.created("reservation-1", boundPod("b", "n1")) }, 2},
		{"a finished pod frees its share", func(c *cache) {
			p := boundPod("b", "n1")
			p.Status.Phase = corev1.PodSucceeded
			c.setPod(p)
		}, 1},
		{"a failed bind is forgotten", func(c *cache) {
			c.mu.Lock()
			c.assume("c", boundPod("c", ""), "n1", now)
			c.mu.Unlock()
			c.forget("c")
		}, 1},
		{"forget leaves a pod the informer confirmed", func(c *cache) { c.forget("a") }, 1},
		{"an assumption the informer never confirms lapses", func(c *cache) {
			c.mu.Lock()
			c.assume("d", boundPod("d", ""), "n1", now.Add(-assumeTTL-time.Second))
			c.mu.Unlock()
		}, 1},
		{"a deleted pod goes", func(c *cache) { c.deletePod(boundPod("a", "n1")) }, 0},
	}
	c := newCache()
	c.setNode(node("n1", "4", "8Gi"))
	for _, s := range steps {
		s.do(c)
		if got := podsOn(c, "n1", now); got != s.want {
			t.Fatalf("%s: %d pods on n1, want %d", s.name, got, s.want)
		}
	}
}

func TestCacheKeepsPodsOfANodeItHasNotSeen(t *testing.T) {
	c := newCache()
	c.setPod(boundPod("a", "late"))
	c.setNode(node("late", "4", "8Gi"))
	if got := podsOn(c, "late", time.Now()); got != 1 {
		t.Fatalf("%d pods on a node seen after its pod, want 1", got)
	}
	c.deleteNode("late")
	c.setNode(node("late", "4", "8Gi"))
	if got := podsOn(c, "late", time.Now()); got != 1 {
		t.Fatalf("%d pods on a node deleted and re-added while its pod stayed, want 1", got)
	}
}
