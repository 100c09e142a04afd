package daemonset

import (
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/clock"
	clocktesting "k8s.io/utils/clock/testing"

	appsv1alpha1 "github.com/kybern/kybern/api/apps/v1alpha1"
	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
)

func testReconciler(clk clock.Clock) *Reconciler {
	return &Reconciler{Recorder: record.NewFakeRecorder(10), Clock: clk, failedBackoff: newFailedBackoff(clk)}
}

func TestManage(t *testing.T) {
	surging := rolling(intstr.FromInt32(1), intstr.FromInt32(0))
	cases := []struct {
		name          string
		ds            *appsv1alpha1.DaemonSet
		nodes         []*corev1alpha1.Node
		pods          []*corev1alpha1.Pod
		wantCreations []string
		wantDeletions []string
	}{
		{"a pod for each fitting node without one", newDS(),
			[]*corev1alpha1.Node{newNode("a"), newNode("b"), newNode("c", taint("x", corev1.TaintEffectNoSchedule))},
			[]*corev1alpha1.Pod{newPod("on-b", "b", curHash)}, []string{"a"}, nil},
		{"an untolerated NoSchedule taint keeps the pod, NoExecute evicts it", newDS(),
			[]*corev1alpha1.Node{newNode("a", taint("x", corev1.TaintEffectNoSchedule)), newNode("b", taint("x", corev1.TaintEffectNoExecute))},
			[]*corev1alpha1.Pod{newPod("on-a", "a", curHash), newPod("on-b", "b", curHash)}, nil, []string{"on-b"}},
		{"a node whose labels stopped matching loses its pod",
			newDS(func(ds *appsv1alpha1.DaemonSet) {
				ds.Spec.Template.Spec.NodeSelector = map[string]string{"role": "edge"}
			}),
			[]*corev1alpha1.Node{newNode("a", nodeLabel("role", "edge")), newNode("b")},
			[]*corev1alpha1.Pod{newPod("on-a", "a", curHash), newPod("on-b", "b", curHash)}, nil, []string{"on-b"}},
		{"pods of a node that is gone go, bound or not", newDS(), []*corev1alpha1.Node{newNode("a")},
			[]*corev1alpha1.Pod{newPod("on-a", "a", curHash), newPod("gone-bound", "gone", curHash), newPod("gone-unbound", "gone", curHash, unbound)},
			nil, []string{"gone-bound", "gone-unbound"}},
		{"surplus without surge: the bound, then the oldest stays", newDS(), []*corev1alpha1.Node{newNode("a")},
			[]*corev1alpha1.Pod{newPod("unbound-oldest", "a", curHash, unbound, createdAgo(3*time.Hour)),
				newPod("newer", "a", curHash, createdAgo(time.Hour)), newPod("older", "a", curHash, createdAgo(2*time.Hour))},
			nil, []string{"newer", "unbound-oldest"}},
		{"a pod being deleted holds its node without surge", newDS(), []*corev1alpha1.Node{newNode("a")},
			[]*corev1alpha1.Pod{newPod("leaving", "a", curHash, deleting)}, nil, nil},
		{"with surge a node whose pod is leaving gets a new one", newDS(surging), []*corev1alpha1.Node{newNode("a")},
			[]*corev1alpha1.Pod{newPod("leaving", "a", curHash, deleting)}, []string{"a"}, nil},
		{"with surge an old ready pod stays beside a new one not yet available", newDS(surging), []*corev1alpha1.Node{newNode("a")},
			[]*corev1alpha1.Pod{newPod("old", "a", oldHash, ready), newPod("new", "a", curHash)}, nil, nil},
		{"with surge the old pod goes once the new one is available", newDS(surging), []*corev1alpha1.Node{newNode("a")},
			[]*corev1alpha1.Pod{newPod("old", "a", oldHash, ready), newPod("new", "a", curHash, ready)}, nil, []string{"old"}},
		{"with surge an old pod that is not ready goes at once, and a second new one too", newDS(surging), []*corev1alpha1.Node{newNode("a")},
			[]*corev1alpha1.Pod{newPod("old", "a", oldHash), newPod("new", "a", curHash, createdAgo(2*time.Hour)), newPod("new2", "a", curHash)},
			nil, []string{"new2", "old"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			pl := testReconciler(clocktesting.NewFakeClock(now)).manage(tc.ds, fitsOf(tc.ds, tc.nodes...), byNodeOf(tc.pods...), curHash, now)
			if !slices.Equal(pl.create, tc.wantCreations) {
				t.Fatalf("creations = %v, want %v", pl.create, tc.wantCreations)
			}
			got := podNames(pl.delete)
			slices.Sort(got)
			if !slices.Equal(got, nonNil(tc.wantDeletions)) {
				t.Fatalf("deletions = %v, want %v", got, tc.wantDeletions)
			}
		})
	}
}

func TestFailedPodsAreReplacedWithBackoff(t *testing.T) {
	clk := clocktesting.NewFakeClock(now)
	r := testReconciler(clk)
	ds := newDS()
	fits := fitsOf(ds, newNode("a"))
	byNode := byNodeOf(newPod("failed", "a", curHash, failed))

	pl := r.manage(ds, fits, byNode, curHash, now)
	if got := podNames(pl.delete); !slices.Equal(got, []string{"failed"}) || pl.retry != 0 {
		t.Fatalf("first failure: deletions %v, retry %s; want [failed] at once", got, pl.retry)
	}
	if e := <-r.Recorder.(*record.FakeRecorder).Events; e != "Warning FailedDaemonPod Found failed daemon pod ns/failed on node a, will try to kill it" {
		t.Fatalf("event = %q", e)
	}
	clk.Step(500 * time.Millisecond)
	pl = r.manage(ds, fits, byNodeOf(newPod("failed-again", "a", curHash, failed)), curHash, clk.Now())
	if len(pl.delete) != 0 || len(pl.create) != 0 || pl.retry != time.Second {
		t.Fatalf("failing again within 1s: deletions %v, creations %v, retry %s; want none and a retry after 1s", podNames(pl.delete), pl.create, pl.retry)
	}
	clk.Step(time.Second)
	pl = r.manage(ds, fits, byNodeOf(newPod("failed-again", "a", curHash, failed)), curHash, clk.Now())
	if len(pl.delete) != 1 {
		t.Fatal("after the backoff the failed pod goes")
	}
}
