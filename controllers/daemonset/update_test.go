package daemonset

import (
	"slices"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	appsv1alpha1 "github.com/kybern/kybern/api/apps/v1alpha1"
	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
)

func TestRollingUpdate(t *testing.T) {
	n := intstr.FromInt32
	pct := intstr.FromString
	old := func(node string, opts ...func(*corev1alpha1.Pod)) *corev1alpha1.Pod {
		return newPod("old-"+node, node, oldHash, opts...)
	}
	cur := func(node string, opts ...func(*corev1alpha1.Pod)) *corev1alpha1.Pod {
		return newPod("new-"+node, node, curHash, opts...)
	}
	five := []string{"a", "b", "c", "d", "e"}
	cases := []struct {
		name          string
		ds            *appsv1alpha1.DaemonSet
		desired       []string
		pods          []*corev1alpha1.Pod
		wantDeletions []string
		wantCreations []string
	}{
		{"maxUnavailable=1, 3 old available: one old pod goes", newDS(rolling(n(0), n(1))), five[:3],
			[]*corev1alpha1.Pod{old("a", ready), old("b", ready), old("c", ready)}, []string{"old-a"}, nil},
		{"maxUnavailable=2, 5 nodes, one new pod not ready yet: one more old pod goes", newDS(rolling(n(0), n(2))), five,
			[]*corev1alpha1.Pod{cur("a"), old("b", ready), old("c", ready), old("d", ready), old("e", ready)}, []string{"old-b"}, nil},
		{"maxUnavailable=1: an unavailable old pod is replaced beyond the budget, an available one waits", newDS(rolling(n(0), n(1))), five[:3],
			[]*corev1alpha1.Pod{cur("a"), old("b"), old("c", ready)}, []string{"old-b"}, nil},
		{"maxUnavailable=1: a node without a pod is already the one unavailable", newDS(rolling(n(0), n(1))), five[:3],
			[]*corev1alpha1.Pod{old("b", ready), old("c", ready)}, nil, nil},
		{"maxUnavailable=50% of 3 nodes rounds up to 2", newDS(rolling(n(0), pct("50%"))), five[:3],
			[]*corev1alpha1.Pod{old("a", ready), old("b", ready), old("c", ready)}, []string{"old-a", "old-b"}, nil},
		{"a pod within minReadySeconds is not yet available", newDS(rolling(n(0), n(1)), func(ds *appsv1alpha1.DaemonSet) { ds.Spec.MinReadySeconds = 60 }), five[:2],
			[]*corev1alpha1.Pod{cur("a", readyFor(10*time.Second)), old("b", ready)}, nil, nil},
		{"maxSurge=0 and maxUnavailable=0 still make progress, one at a time", newDS(rolling(n(0), n(0))), five[:2],
			[]*corev1alpha1.Pod{old("a", ready), old("b", ready)}, []string{"old-a"}, nil},
		{"everything updated and available: nothing to do", newDS(rolling(n(1), n(0))), five[:2],
			[]*corev1alpha1.Pod{cur("a", ready), cur("b", ready)}, nil, nil},
		{"maxSurge=1: a new pod starts beside one old pod, none goes", newDS(rolling(n(1), n(0))), five[:3],
			[]*corev1alpha1.Pod{old("a", ready), old("b", ready), old("c", ready)}, nil, []string{"a"}},
		{"maxSurge=1: while the new pod is not available nothing moves", newDS(rolling(n(1), n(0))), five[:3],
			[]*corev1alpha1.Pod{old("a", ready), cur("a"), old("b", ready), old("c", ready)}, nil, nil},
		{"maxSurge=1: the new pod available, its old pod goes and the next node surges", newDS(rolling(n(1), n(0))), five[:3],
			[]*corev1alpha1.Pod{old("a", ready), cur("a", ready), old("b", ready), old("c", ready)}, []string{"old-a"}, []string{"b"}},
		{"maxSurge=1: an unavailable old pod gets its new pod beyond the budget", newDS(rolling(n(1), n(0))), five[:3],
			[]*corev1alpha1.Pod{old("a", ready), cur("a"), old("b"), old("c", ready)}, nil, []string{"b"}},
		{"maxSurge=100%: every node surges at once", newDS(rolling(pct("100%"), n(0))), five[:3],
			[]*corev1alpha1.Pod{old("a", ready), old("b", ready), old("c", ready)}, nil, []string{"a", "b", "c"}},
		{"a node with two pods of one kind counts as surging until manage cleans it", newDS(rolling(n(1), n(0))), five[:2],
			[]*corev1alpha1.Pod{old("a", ready), newPod("old-a2", "a", oldHash, ready), old("b", ready)}, nil, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			deletions, creations := rollingUpdate(tc.ds, tc.desired, byNodeOf(tc.pods...), curHash, now)
			if got := podNames(deletions); !slices.Equal(got, nonNil(tc.wantDeletions)) {
				t.Fatalf("deletions = %v, want %v", got, tc.wantDeletions)
			}
			if !slices.Equal(creations, tc.wantCreations) {
				t.Fatalf("creations = %v, want %v", creations, tc.wantCreations)
			}
		})
	}
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func TestSurgeAndUnavailable(t *testing.T) {
	pct := intstr.FromString
	cases := []struct {
		name    string
		ds      *appsv1alpha1.DaemonSet
		desired int
		want    budget
	}{
		{"30% of 5 nodes rounds up to 2", newDS(rolling(pct("30%"), pct("30%"))), 5, budget{surge: 2, unavailable: 2}},
		{"1% of 1 node is 1", newDS(rolling(pct("1%"), intstr.FromInt32(0))), 1, budget{surge: 1}},
		{"both 0: maxUnavailable becomes 1", newDS(rolling(intstr.FromInt32(0), intstr.FromInt32(0))), 5, budget{unavailable: 1}},
		{"no node wants a pod: nothing", newDS(rolling(intstr.FromInt32(0), intstr.FromInt32(0))), 0, budget{}},
		{"RollingUpdate without a rollingUpdate block: upstream's maxUnavailable 1", newDS(func(ds *appsv1alpha1.DaemonSet) {
			ds.Spec.UpdateStrategy = appsv1.DaemonSetUpdateStrategy{Type: appsv1.RollingUpdateDaemonSetStrategyType}
		}), 5, budget{unavailable: 1}},
		{"no strategy at all: a RollingUpdate, as upstream defaults it", newDS(func(ds *appsv1alpha1.DaemonSet) {
			ds.Spec.UpdateStrategy = appsv1.DaemonSetUpdateStrategy{}
		}), 5, budget{unavailable: 1}},
		{"maxSurge alone: maxUnavailable defaults to 1 beside it", newDS(func(ds *appsv1alpha1.DaemonSet) {
			ds.Spec.UpdateStrategy = appsv1.DaemonSetUpdateStrategy{Type: appsv1.RollingUpdateDaemonSetStrategyType,
				RollingUpdate: &appsv1.RollingUpdateDaemonSet{MaxSurge: ptr.To(pct("20%"))}}
		}), 5, budget{surge: 1, unavailable: 1}},
		{"OnDelete: nothing", newDS(func(ds *appsv1alpha1.DaemonSet) {
			ds.Spec.UpdateStrategy = appsv1.DaemonSetUpdateStrategy{Type: appsv1.OnDeleteDaemonSetStrategyType}
		}), 5, budget{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := surgeAndUnavailable(tc.ds, tc.desired); got != tc.want {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestIsUpdated(t *testing.T) {
	ds := newDS()
	if !isUpdated(ds, newPod("p", "a", curHash), curHash) {
		t.Fatal("the current hash is updated")
	}
	byGeneration := newPod("p", "a", oldHash)
	byGeneration.Labels[TemplateGenerationLabel] = "2"
	if !isUpdated(ds, byGeneration, curHash) {
		t.Fatal("the current generation is updated, whatever the hash")
	}
	if isUpdated(ds, newPod("p", "a", oldHash), curHash) {
		t.Fatal("another hash and no generation is old")
	}
	ds.Spec.ConfigPolicy = appsv1alpha1.ConfigSnapshot
	if isUpdated(ds, byGeneration, curHash) {
		t.Fatal("with configPolicy Snapshot, a configuration edit leaves the generation: the hash alone counts")
	}
}
