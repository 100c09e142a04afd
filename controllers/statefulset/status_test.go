package statefulset

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	appsv1alpha1 "github.com/kybern/kybern/api/apps/v1alpha1"
	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
)

func readySince(d time.Duration) func(*corev1alpha1.Pod) {
	return func(p *corev1alpha1.Pod) {
		p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: metav1.NewTime(now.Add(-d))}}
	}
}

func TestCalculateStatus(t *testing.T) {
	minReady := func(set *appsv1alpha1.StatefulSet) { set.Spec.MinReadySeconds = 30 }
	cases := []struct {
		name string
		set  *appsv1alpha1.StatefulSet
		pods []*corev1alpha1.Pod
		// want is replicas, ready, available, current, updated.
		want        [5]int32
		wantCurrent string
	}{
		{"mid-rollout: 2 current, 1 updated not yet ready", newSet(3),
			[]*corev1alpha1.Pod{pod(0, cur), pod(1, cur), pod(2, upd, notReady)}, [5]int32{3, 2, 2, 2, 1}, cur},
		{"rollout complete: the update revision becomes current", newSet(3),
			[]*corev1alpha1.Pod{pod(0, upd), pod(1, upd), pod(2, upd)}, [5]int32{3, 3, 3, 3, 3}, upd},
		{"all updated but one not ready: not complete", newSet(2),
			[]*corev1alpha1.Pod{pod(0, upd), pod(1, upd, notReady)}, [5]int32{2, 1, 1, 0, 2}, cur},
		{"a pod being deleted counts as a replica, not as current", newSet(2),
			[]*corev1alpha1.Pod{pod(0, cur), pod(1, cur, deleting, notReady)}, [5]int32{2, 1, 1, 1, 0}, cur},
		{"minReadySeconds 30: a pod ready for 10s is not available", newSet(2, minReady),
			[]*corev1alpha1.Pod{pod(0, cur, readySince(time.Minute)), pod(1, cur, readySince(10*time.Second))}, [5]int32{2, 2, 1, 2, 0}, cur},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := calculateStatus(tc.set, tc.pods, cur, upd, ptr.To[int32](1), "app=web", now, true)
			got := [5]int32{s.Replicas, s.ReadyReplicas, s.AvailableReplicas, s.CurrentReplicas, s.UpdatedReplicas}
			if got != tc.want || s.CurrentRevision != tc.wantCurrent {
				t.Fatalf("replicas/ready/available/current/updated = %v, currentRevision %s; want %v, %s", got, s.CurrentRevision, tc.want, tc.wantCurrent)
			}
			if s.UpdateRevision != upd || *s.CollisionCount != 1 || s.ObservedGeneration != 3 || s.LabelSelector != "app=web" {
				t.Fatalf("status = %+v", s)
			}
		})
	}
}

func TestCalculateStatusKeepsObservedGenerationUntilObserved(t *testing.T) {
	set := newSet(1)
	set.Status.ObservedGeneration = 2
	if s := calculateStatus(set, nil, cur, upd, nil, "", now, false); s.ObservedGeneration != 2 {
		t.Fatalf("observedGeneration = %d; a reconcile that did not act keeps 2", s.ObservedGeneration)
	}
}

func TestNextCheck(t *testing.T) {
	set := newSet(2, func(set *appsv1alpha1.StatefulSet) { set.Spec.MinReadySeconds = 30 })
	pods := []*corev1alpha1.Pod{pod(0, cur, readySince(time.Minute)), pod(1, cur, readySince(10*time.Second))}
	// web-1 became ready 10s ago: available 20s from now, checked just after.
	if got := nextCheck(set, pods, now); got != 20*time.Second+time.Second/10 {
		t.Fatalf("nextCheck = %s, want 20.1s", got)
	}
	if got := nextCheck(newSet(2), pods, now); got != 0 {
		t.Fatalf("nextCheck without minReadySeconds = %s, want 0", got)
	}
}
