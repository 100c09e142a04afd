package podutil

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
)

var now = time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)

// pod builds a test pod; opts adjust it.
func pod(name string, opts ...func(*corev1alpha1.Pod)) *corev1alpha1.Pod {
	p := &corev1alpha1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, UID: types.UID(name),
		CreationTimestamp: metav1.NewTime(now.Add(-time.Hour))}}
	p.Spec.NodeName = "node-1"
	p.Status.Phase = corev1.PodRunning
	for _, o := range opts {
		o(p)
	}
	return p
}

func onNode(n string) func(*corev1alpha1.Pod) {
	return func(p *corev1alpha1.Pod) { p.Spec.NodeName = n }
}
func phase(ph corev1.PodPhase) func(*corev1alpha1.Pod) {
	return func(p *corev1alpha1.Pod) { p.Status.Phase = ph }
}
func readySince(d time.Duration) func(*corev1alpha1.Pod) {
	return func(p *corev1alpha1.Pod) {
		p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue,
			LastTransitionTime: metav1.NewTime(now.Add(-d))}}
	}
}
func created(d time.Duration) func(*corev1alpha1.Pod) {
	return func(p *corev1alpha1.Pod) { p.CreationTimestamp = metav1.NewTime(now.Add(-d)) }
}
func cost(c string) func(*corev1alpha1.Pod) {
	return func(p *corev1alpha1.Pod) { p.Annotations = map[string]string{PodDeletionCostAnnotation: c} }
}
func restarts(n int32) func(*corev1alpha1.Pod) {
	return func(p *corev1alpha1.Pod) {
		p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "c", RestartCount: n}}
	}
}

func TestPodsToDelete(t *testing.T) {
	cases := []struct {
		name string
		// pods in an order the ranking must overturn; want names the first len(want) victims.
		pods    []*corev1alpha1.Pod
		related []*corev1alpha1.Pod
		want    []string
	}{
		{"unscheduled before scheduled",
			[]*corev1alpha1.Pod{pod("scheduled"), pod("unscheduled", onNode(""), phase(corev1.PodPending))}, nil,
			[]string{"unscheduled"}},
		{"Pending before Unknown before Running",
			[]*corev1alpha1.Pod{pod("running"), pod("unknown", phase(corev1.PodUnknown)), pod("pending", phase(corev1.PodPending))}, nil,
			[]string{"pending", "unknown"}},
		{"not ready before ready",
			[]*corev1alpha1.Pod{pod("ready", readySince(time.Minute)), pod("not-ready")}, nil,
			[]string{"not-ready"}},
		{"lower pod-deletion-cost first, even when ready for less time",
			[]*corev1alpha1.Pod{pod("new-costly", readySince(time.Second), cost("100")), pod("old-cheap", readySince(time.Hour), cost("-5"))}, nil,
			[]string{"old-cheap"}},
		{"an unparsable cost counts as 0",
			[]*corev1alpha1.Pod{pod("one", readySince(time.Second), cost("1")), pod("garbage", readySince(time.Hour), cost("x"))}, nil,
			[]string{"garbage"}},
		{"doubled up before alone",
			[]*corev1alpha1.Pod{pod("alone", onNode("b"), readySince(time.Minute)), pod("doubled", onNode("a"), readySince(time.Hour))},
			[]*corev1alpha1.Pod{pod("sibling", onNode("a")), pod("doubled", onNode("a")), pod("alone", onNode("b"))},
			[]string{"doubled"}},
		{"ready for less time first, across powers of two",
			[]*corev1alpha1.Pod{pod("ready-1h", readySince(time.Hour)), pod("ready-10s", readySince(10*time.Second))}, nil,
			[]string{"ready-10s"}},
		{"more restarts first",
			[]*corev1alpha1.Pod{pod("calm", restarts(0)), pod("flapping", restarts(7))}, nil,
			[]string{"flapping"}},
		{"newer first",
			[]*corev1alpha1.Pod{pod("old", created(48*time.Hour)), pod("new", created(time.Minute))}, nil,
			[]string{"new"}},
		{"scale 5 → 2: unscheduled, then pending, then not ready",
			[]*corev1alpha1.Pod{pod("ready-a", readySince(time.Hour)), pod("not-ready"), pod("pending", phase(corev1.PodPending)),
				pod("ready-b", readySince(2*time.Hour)), pod("unscheduled", onNode(""), phase(corev1.PodPending))}, nil,
			[]string{"unscheduled", "pending", "not-ready"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			related := tc.related
			if related == nil {
				related = tc.pods
			}
			got := PodsToDelete(tc.pods, related, len(tc.want), now)
			if len(got) != len(tc.want) {
				t.Fatalf("got %d victims, want %d", len(got), len(tc.want))
			}
			for i := range got {
				if got[i].Name != tc.want[i] {
					t.Fatalf("victim %d = %s, want %s (all: %v)", i, got[i].Name, tc.want[i], names(got))
				}
			}
		})
	}
}

func TestLogScaleTiesBreakByUID(t *testing.T) {
	// Created 80 and 120 minutes ago: both ages lie between 2^42 ns (73 min) and 2^43 ns
	// (147 min), one bucket.
	a := pod("b-uid", created(80*time.Minute))
	b := pod("a-uid", created(120*time.Minute))
	got := PodsToDelete([]*corev1alpha1.Pod{a, b}, nil, 1, now)
	if got[0].Name != "a-uid" {
		t.Fatalf("victim = %s; pods of the same log2 age bucket break ties by UID, want a-uid", got[0].Name)
	}
}

func TestPodsToDeleteAll(t *testing.T) {
	pods := []*corev1alpha1.Pod{pod("a"), pod("b")}
	if got := PodsToDelete(pods, pods, 5, now); len(got) != 2 {
		t.Fatalf("deleting more than there are returns them all; got %d", len(got))
	}
}

func names(pods []*corev1alpha1.Pod) []string {
	out := make([]string, len(pods))
	for i, p := range pods {
		out[i] = p.Name
	}
	return out
}
