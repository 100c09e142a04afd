package replicaset

import (
	"errors"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	appsv1alpha1 "github.com/kybern/kybern/api/apps/v1alpha1"
	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
)

func testRS(replicas, minReady int32) *appsv1alpha1.ReplicaSet {
	rs := &appsv1alpha1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: "rs", Generation: 4}}
	rs.Spec.Replicas = ptr.To(replicas)
	rs.Spec.MinReadySeconds = minReady
	rs.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}
	rs.Spec.Template.Labels = map[string]string{"app": "web", "tier": "front"}
	return rs
}

func labelled(l map[string]string) func(*corev1alpha1.Pod) {
	return func(p *corev1alpha1.Pod) { p.Labels = l }
}

func TestCalculateStatus(t *testing.T) {
	full := map[string]string{"app": "web", "tier": "front"}
	cases := []struct {
		name      string
		rs        *appsv1alpha1.ReplicaSet
		pods      []*corev1alpha1.Pod
		manageErr error
		want      appsv1.ReplicaSetStatus
		wantCond  string
	}{
		{"replicas=3, 3 pods: 2 fully labelled, 2 ready, 1 of them ready long enough for minReadySeconds=30",
			testRS(3, 30),
			[]*corev1alpha1.Pod{
				pod("a", labelled(full), readySince(time.Minute)),
				pod("b", labelled(full), readySince(10*time.Second)),
				pod("c", labelled(map[string]string{"app": "web"})),
			}, nil,
			appsv1.ReplicaSetStatus{Replicas: 3, FullyLabeledReplicas: 2, ReadyReplicas: 2, AvailableReplicas: 1, ObservedGeneration: 4, TerminatingReplicas: ptr.To[int32](1)},
			""},
		{"replicas=3, 1 pod, creates failed: ReplicaFailure FailedCreate with the apiserver's message",
			testRS(3, 0), []*corev1alpha1.Pod{pod("a", labelled(full), readySince(time.Second))},
			errors.New(`pods "rs-" is forbidden: exceeded quota`),
			appsv1.ReplicaSetStatus{Replicas: 1, FullyLabeledReplicas: 1, ReadyReplicas: 1, AvailableReplicas: 1, ObservedGeneration: 4, TerminatingReplicas: ptr.To[int32](1)},
			ReasonFailedCreate},
		{"replicas=0, 1 pod, deletes failed: ReplicaFailure FailedDelete",
			testRS(0, 0), []*corev1alpha1.Pod{pod("a", labelled(full))}, errors.New("forbidden"),
			appsv1.ReplicaSetStatus{Replicas: 1, FullyLabeledReplicas: 1, ObservedGeneration: 4, TerminatingReplicas: ptr.To[int32](1)},
			ReasonFailedDelete},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := calculateStatus(tc.rs, tc.pods, 1, tc.manageErr, now)
			conds := got.Conditions
			got.Conditions = nil
			if got.Replicas != tc.want.Replicas || got.FullyLabeledReplicas != tc.want.FullyLabeledReplicas ||
				got.ReadyReplicas != tc.want.ReadyReplicas || got.AvailableReplicas != tc.want.AvailableReplicas ||
				got.ObservedGeneration != tc.want.ObservedGeneration || *got.TerminatingReplicas != *tc.want.TerminatingReplicas {
				t.Fatalf("status = %+v, want %+v", got.ReplicaSetStatus, tc.want)
			}
			if got.LabelSelector != "app=web" {
				t.Errorf("labelSelector = %q, want app=web", got.LabelSelector)
			}
			if tc.wantCond == "" {
				if len(conds) != 0 {
					t.Fatalf("conditions = %v, want none", conds)
				}
				return
			}
			if len(conds) != 1 || conds[0].Type != appsv1.ReplicaSetReplicaFailure || conds[0].Reason != tc.wantCond ||
				conds[0].Status != corev1.ConditionTrue || conds[0].Message != tc.manageErr.Error() {
				t.Fatalf("conditions = %+v, want ReplicaFailure %s", conds, tc.wantCond)
			}
		})
	}
}

func TestReplicaFailureClearsOnSuccess(t *testing.T) {
	rs := testRS(1, 0)
	rs.Status.Conditions = []appsv1.ReplicaSetCondition{{Type: appsv1.ReplicaSetReplicaFailure, Status: corev1.ConditionTrue, Reason: ReasonFailedCreate}}
	if got := calculateStatus(rs, nil, 0, nil, now); len(got.Conditions) != 0 {
		t.Fatalf("conditions = %v, want ReplicaFailure removed once creates succeed", got.Conditions)
	}
}

func TestNextAvailable(t *testing.T) {
	rs := testRS(2, 30)
	pods := []*corev1alpha1.Pod{pod("a", readySince(10*time.Second)), pod("b", readySince(time.Hour)), pod("c")}
	wait, ok := nextAvailable(rs, pods, now)
	if !ok || wait != 21*time.Second {
		t.Fatalf("nextAvailable = %v, %v; want 21s (20s left of 30s, plus 1s past the edge)", wait, ok)
	}
	if _, ok := nextAvailable(testRS(2, 0), pods, now); ok {
		t.Fatal("minReadySeconds=0: nothing to wait for")
	}
}
