package statefulset

import (
	"fmt"
	"slices"
	"testing"

	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	appsv1alpha1 "github.com/kybern/kybern/api/apps/v1alpha1"
	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
)

// describe renders a plan's stages as "create web-1", "delete web-2 RecreatingFailedPod", ….
func describe(set *appsv1alpha1.StatefulSet, pl plan) [][]string {
	out := [][]string{}
	for _, stage := range pl.stages {
		var s []string
		for _, a := range stage {
			name := podName(set, a.ordinal)
			switch a.kind {
			case createPod:
				s = append(s, "create "+name)
			case deletePod:
				s = append(s, fmt.Sprintf("delete %s%s", name, map[bool]string{true: " " + a.reason}[a.reason != ""]))
			case updatePod:
				s = append(s, "update "+name)
			case fixClaims:
				s = append(s, "claims "+name)
			}
		}
		out = append(out, s)
	}
	return out
}

func TestPlanSync(t *testing.T) {
	maxUnavailable2 := func(set *appsv1alpha1.StatefulSet) {
		v := intstr.FromInt32(2)
		set.Spec.UpdateStrategy.RollingUpdate.MaxUnavailable = &v
	}
	noIndex := func(p *corev1alpha1.Pod) { delete(p.Labels, PodIndexLabel) }
	cases := []struct {
		name string
		set  *appsv1alpha1.StatefulSet
		pods []*corev1alpha1.Pod
		want [][]string
		// waiting is whether an OrderedReady plan stops short.
		waiting bool
	}{
		{"OrderedReady, empty: only web-0 is created", newSet(3), nil,
			[][]string{{"create web-0"}}, true},
		{"OrderedReady: web-1 waits for web-0 to be Ready", newSet(3), []*corev1alpha1.Pod{pod(0, upd, notReady)},
			[][]string{}, true},
		{"OrderedReady: web-1 follows a ready web-0", newSet(3), []*corev1alpha1.Pod{pod(0, upd)},
			[][]string{{"create web-1"}}, true},
		{"OrderedReady: a terminating web-0 holds everything", newSet(3), []*corev1alpha1.Pod{pod(0, upd, deleting), pod(1, upd)},
			[][]string{}, true},
		{"ordinals.start 5: the first pod is web-5", newSet(2, startAt(5)), nil,
			[][]string{{"create web-5"}}, true},
		{"Parallel: every missing pod at once", newSet(3, parallel), []*corev1alpha1.Pod{pod(1, upd, notReady)},
			[][]string{{"create web-0", "create web-2"}}, false},
		{"a failed pod is deleted to be recreated", newSet(2), []*corev1alpha1.Pod{pod(0, upd, failed), pod(1, upd)},
			[][]string{{"delete web-0 RecreatingFailedPod"}}, true},
		{"a failed pod already being deleted is waited for", newSet(1), []*corev1alpha1.Pod{pod(0, upd, failed, deleting)},
			[][]string{}, true},
		{"a pod that lost its index label is repaired, and the next created", newSet(2), []*corev1alpha1.Pod{pod(0, upd, noIndex)},
			[][]string{{"update web-0", "create web-1"}}, true},
		{"OrderedReady scale 3 → 1: only the highest goes", newSet(1), []*corev1alpha1.Pod{pod(0, upd), pod(1, upd), pod(2, upd)},
			[][]string{{"delete web-2"}}, true},
		{"OrderedReady scale-down waits for the highest to be gone", newSet(1), []*corev1alpha1.Pod{pod(0, upd), pod(1, upd), pod(2, upd, deleting)},
			[][]string{}, true},
		{"OrderedReady scale-down waits for the pods in range to be ready", newSet(1), []*corev1alpha1.Pod{pod(0, upd, notReady), pod(1, upd)},
			[][]string{}, true},
		{"Parallel scale 3 → 1: every condemned pod at once", newSet(1, parallel), []*corev1alpha1.Pod{pod(0, upd), pod(1, upd), pod(2, upd)},
			[][]string{{"delete web-2", "delete web-1"}}, false},
		{"RollingUpdate: the highest old pod goes first", newSet(3), []*corev1alpha1.Pod{pod(0, cur), pod(1, cur), pod(2, cur)},
			[][]string{{"delete web-2"}}, false},
		{"RollingUpdate: web-1 once web-2 is updated and ready", newSet(3), []*corev1alpha1.Pod{pod(0, cur), pod(1, cur), pod(2, upd)},
			[][]string{{"delete web-1"}}, false},
		{"RollingUpdate with partition 2 leaves web-1 and web-0", newSet(3, withPartition(2)), []*corev1alpha1.Pod{pod(0, cur), pod(1, cur), pod(2, upd)},
			[][]string{}, false},
		{"RollingUpdate, maxUnavailable 2: two at once", newSet(4, maxUnavailable2), []*corev1alpha1.Pod{pod(0, cur), pod(1, cur), pod(2, cur), pod(3, cur)},
			[][]string{{"delete web-3", "delete web-2"}}, false},
		{"Parallel RollingUpdate: one unavailable updated pod uses the budget", newSet(3, parallel), []*corev1alpha1.Pod{pod(0, cur), pod(1, cur), pod(2, upd, notReady)},
			[][]string{}, false},
		{"Parallel RollingUpdate: an unavailable old pod is replaced regardless of the budget", newSet(3, parallel), []*corev1alpha1.Pod{pod(0, cur), pod(1, cur, notReady), pod(2, upd, notReady)},
			[][]string{{"delete web-1"}}, false},
		{"OnDelete never deletes old pods", newSet(2, onDelete), []*corev1alpha1.Pod{pod(0, cur), pod(1, cur)},
			[][]string{}, false},
		{"stuck rollout: an unready pod of another revision is recreated", newSet(3), []*corev1alpha1.Pod{pod(0, upd), pod(1, upd), pod(2, "web-broken", notReady)},
			[][]string{{"delete web-2 RecreatingUnhealthyPod"}}, true},
		{"stuck rollout: an unready pod of the update revision is waited for", newSet(3), []*corev1alpha1.Pod{pod(0, cur), pod(1, cur), pod(2, upd, notReady)},
			[][]string{}, true},
		{"stuck rollout: below the partition the pod is waited for", newSet(3, withPartition(2)), []*corev1alpha1.Pod{pod(0, cur), pod(1, "web-broken", notReady), pod(2, upd)},
			[][]string{}, true},
		{"stuck rollout: OnDelete waits", newSet(3, onDelete), []*corev1alpha1.Pod{pod(0, cur), pod(1, cur), pod(2, "web-broken", notReady)},
			[][]string{}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			pl := planSync(observeAt(tc.set, tc.pods...))
			if got := describe(tc.set, pl); !slices.EqualFunc(got, tc.want, slices.Equal) {
				t.Fatalf("plan = %q, want %q (waiting for %q)", got, tc.want, pl.waiting)
			}
			if (pl.waiting != "") != tc.waiting {
				t.Fatalf("waiting = %q, want waiting %v", pl.waiting, tc.waiting)
			}
		})
	}
}

func TestWantsUpdate(t *testing.T) {
	if set := newSet(4, withPartition(2)); wantsUpdate(set, 1) || !wantsUpdate(set, 2) {
		t.Fatal("under partition 2, index 1 keeps the current revision and index 2 takes the update")
	}
	if !wantsUpdate(newSet(4, onDelete), 0) {
		t.Fatal("under OnDelete a new pod takes the update revision")
	}
}

func TestMaxUnavailable(t *testing.T) {
	cases := []struct {
		value    *intstr.IntOrString
		replicas int32
		want     int
	}{
		{nil, 5, 1},
		{ptr.To(intstr.FromInt32(3)), 5, 3},
		{ptr.To(intstr.FromString("30%")), 5, 2},
		{ptr.To(intstr.FromString("10%")), 3, 1},
		{ptr.To(intstr.FromInt32(0)), 5, 1},
	}
	for _, tc := range cases {
		set := newSet(tc.replicas)
		set.Spec.UpdateStrategy.RollingUpdate.MaxUnavailable = tc.value
		if got := maxUnavailable(set); got != tc.want {
			t.Errorf("maxUnavailable(%v of %d) = %d, want %d", tc.value, tc.replicas, got, tc.want)
		}
	}
}
