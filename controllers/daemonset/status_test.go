package daemonset

import (
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"

	appsv1alpha1 "github.com/kybern/kybern/api/apps/v1alpha1"
	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
)

func TestCalculateStatus(t *testing.T) {
	ds := newDS(func(ds *appsv1alpha1.DaemonSet) {
		ds.Spec.MinReadySeconds = 30
		ds.Status.CollisionCount = ptr.To[int32](1)
		ds.Status.ObservedGeneration = 1
	})
	nodes := []*corev1alpha1.Node{newNode("a"), newNode("b"), newNode("c"), newNode("d"),
		newNode("tainted", taint("x", corev1.TaintEffectNoExecute))}
	pods := []*corev1alpha1.Pod{
		newPod("a", "a", curHash, ready),
		newPod("b", "b", oldHash, ready),
		// A just-ready pod, and a newer unbound one that does not speak for node c.
		newPod("c", "c", curHash, readyFor(10*time.Second)),
		newPod("c-unbound", "c", oldHash, unbound, createdAgo(time.Minute)),
		newPod("tainted", "tainted", curHash, ready),
	}
	want := appsv1.DaemonSetStatus{
		DesiredNumberScheduled: 4, CurrentNumberScheduled: 3, NumberMisscheduled: 1,
		NumberReady: 3, NumberAvailable: 2, NumberUnavailable: 2, UpdatedNumberScheduled: 2,
		ObservedGeneration: 2, CollisionCount: ptr.To[int32](1),
	}
	got := calculateStatus(ds, fitsOf(ds, nodes...), byNodeOf(pods...), curHash, now, true)
	if got.String() != want.String() {
		t.Fatalf("status\n got %+v\nwant %+v", got, want)
	}
	if got := calculateStatus(ds, fitsOf(ds, nodes...), byNodeOf(pods...), curHash, now, false); got.ObservedGeneration != 1 {
		t.Fatalf("a reconcile still waiting on its writes must leave observedGeneration at 1; got %d", got.ObservedGeneration)
	}
	if wait := nextCheck(ds, got, 0); wait != 30*time.Second {
		t.Fatalf("with a ready pod not yet available, look again after minReadySeconds; got %s", wait)
	}
	if wait := nextCheck(ds, got, 5*time.Second); wait != 5*time.Second {
		t.Fatalf("a backoff ending sooner wins; got %s", wait)
	}
}
