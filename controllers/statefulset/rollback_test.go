package statefulset

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	appsv1alpha1 "github.com/kybern/kybern/api/apps/v1alpha1"
	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
)

// prev is a revision older than cur, which these tests take as the stable revision.
const prev = "web-prev"

func revision(name string) *appsv1.ControllerRevision {
	return &appsv1.ControllerRevision{ObjectMeta: metav1.ObjectMeta{Name: name}}
}

func withPolicy(p appsv1alpha1.RollbackPolicy) func(*appsv1alpha1.StatefulSet) {
	return func(set *appsv1alpha1.StatefulSet) { set.Spec.RollbackPolicy = &p }
}

func withRollback(stable, failed string) func(*appsv1alpha1.StatefulSet) {
	return func(set *appsv1alpha1.StatefulSet) {
		set.Status.Rollback = &appsv1alpha1.RollbackStatus{StableRevision: stable, FailedRevision: failed}
	}
}

func crashLooping(p *corev1alpha1.Pod) {
	p.Status.Conditions = nil
	p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "c", RestartCount: 5,
		LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 1, FinishedAt: metav1.NewTime(now)}}}}
}

func createdAgo(d time.Duration) func(*corev1alpha1.Pod) {
	return func(p *corev1alpha1.Pod) { p.CreationTimestamp = metav1.NewTime(now.Add(-d)) }
}

func TestPlanRollback(t *testing.T) {
	defaults := withPolicy(appsv1alpha1.RollbackPolicy{})
	notReadyAfter := func(s int32) func(*appsv1alpha1.StatefulSet) {
		return withPolicy(appsv1alpha1.RollbackPolicy{Triggers: &appsv1alpha1.RollbackTriggers{NotReady: &appsv1alpha1.NotReadyTrigger{Seconds: &s}}})
	}
	maxFailed := func(v intstr.IntOrString) func(*appsv1alpha1.StatefulSet) {
		return withPolicy(appsv1alpha1.RollbackPolicy{MaxFailedPods: &v})
	}
	// Revisions: upd records spec.template, cur and prev came before it.
	cases := []struct {
		name string
		set  *appsv1alpha1.StatefulSet
		pods []*corev1alpha1.Pod
		// wantTarget is the revision rolled to, wantStatus status.rollback before apply.
		wantTarget string
		wantStatus *appsv1alpha1.RollbackStatus
		// wantReason is the RolledBack reason of a rollback started; "" for none.
		wantReason  string
		wantRecheck time.Duration
		wantLost    string
	}{
		{"no policy: the update rolls out, and status.rollback goes", newSet(3, withRollback(prev, upd)),
			[]*corev1alpha1.Pod{pod(0, prev), pod(1, prev), pod(2, upd, crashLooping)}, upd, nil, "", 0, ""},
		{"no stable revision known: a failing update rolls out", newSet(3, defaults),
			[]*corev1alpha1.Pod{pod(0, prev), pod(1, prev), pod(2, upd, crashLooping)}, upd, &appsv1alpha1.RollbackStatus{}, "", 0, ""},
		{"the update revision is the stable one: nothing to roll back to", newSet(3, defaults, withRollback(upd, "")),
			[]*corev1alpha1.Pod{pod(0, upd), pod(1, upd), pod(2, upd, crashLooping)}, upd, &appsv1alpha1.RollbackStatus{StableRevision: upd}, "", 0, ""},
		{"a healthy update rolls on", newSet(3, defaults, withRollback(prev, "")),
			[]*corev1alpha1.Pod{pod(0, prev), pod(1, prev), pod(2, upd)}, upd, &appsv1alpha1.RollbackStatus{StableRevision: prev}, "", 0, ""},
		{"a crash-looping pod of the update revision rolls back to the stable one", newSet(3, defaults, withRollback(prev, "")),
			[]*corev1alpha1.Pod{pod(0, prev), pod(1, prev), pod(2, upd, crashLooping)}, prev,
			&appsv1alpha1.RollbackStatus{StableRevision: prev, FailedRevision: upd}, appsv1alpha1.RollbackReasonCrashLoop, 0, ""},
		{"pods of other revisions are not judged", newSet(3, defaults, withRollback(prev, "")),
			[]*corev1alpha1.Pod{pod(0, prev), pod(1, cur, crashLooping), pod(2, upd)}, upd, &appsv1alpha1.RollbackStatus{StableRevision: prev}, "", 0, ""},
		{"maxFailedPods 1: one failing pod is allowed", newSet(3, maxFailed(intstr.FromInt32(1)), withRollback(prev, "")),
			[]*corev1alpha1.Pod{pod(0, prev), pod(1, upd), pod(2, upd, crashLooping)}, upd, &appsv1alpha1.RollbackStatus{StableRevision: prev}, "", 0, ""},
		{"maxFailedPods 50% of the 2 ordinals from partition 2: one is allowed", newSet(4, withPartition(2), maxFailed(intstr.FromString("50%")), withRollback(prev, "")),
			[]*corev1alpha1.Pod{pod(0, prev), pod(1, prev), pod(2, upd), pod(3, upd, crashLooping)}, upd, &appsv1alpha1.RollbackStatus{StableRevision: prev}, "", 0, ""},
		{"maxFailedPods 50% of the 2 ordinals from partition 2: two roll back", newSet(4, withPartition(2), maxFailed(intstr.FromString("50%")), withRollback(prev, "")),
			[]*corev1alpha1.Pod{pod(0, prev), pod(1, prev), pod(2, upd, crashLooping), pod(3, upd, crashLooping)}, prev,
			&appsv1alpha1.RollbackStatus{StableRevision: prev, FailedRevision: upd}, appsv1alpha1.RollbackReasonCrashLoop, 0, ""},
		{"the update revision is the failed one: the rollback holds, not started again", newSet(3, defaults, withRollback(prev, upd)),
			[]*corev1alpha1.Pod{pod(0, prev), pod(1, prev), pod(2, upd, crashLooping)}, prev,
			&appsv1alpha1.RollbackStatus{StableRevision: prev, FailedRevision: upd}, "", 0, ""},
		{"spec.template moved on from the failed revision: failedRevision clears", newSet(3, defaults, withRollback(prev, cur)),
			[]*corev1alpha1.Pod{pod(0, prev), pod(1, prev), pod(2, upd)}, upd, &appsv1alpha1.RollbackStatus{StableRevision: prev}, "", 0, ""},
		{"the stable revision is gone: the rollback ends and the update rolls out", newSet(3, defaults, withRollback("web-gone", upd)),
			[]*corev1alpha1.Pod{pod(0, prev), pod(1, prev), pod(2, upd, crashLooping)}, upd, &appsv1alpha1.RollbackStatus{}, "", 0, "web-gone"},
		{"notReady 60s: a pod unready for 20s is rechecked in 40s", newSet(3, notReadyAfter(60), withRollback(prev, "")),
			[]*corev1alpha1.Pod{pod(0, prev), pod(1, prev), pod(2, upd, notReady, createdAgo(20*time.Second))}, upd,
			&appsv1alpha1.RollbackStatus{StableRevision: prev}, "", 40 * time.Second, ""},
		{"notReady 60s: a pod unready for 90s rolls back", newSet(3, notReadyAfter(60), withRollback(prev, "")),
			[]*corev1alpha1.Pod{pod(0, prev), pod(1, prev), pod(2, upd, notReady, createdAgo(90*time.Second))}, prev,
			&appsv1alpha1.RollbackStatus{StableRevision: prev, FailedRevision: upd}, appsv1alpha1.RollbackReasonNotReady, 0, ""},
		{"notReady only: a crash-looping pod that is ready does not count", newSet(3, notReadyAfter(60), withRollback(prev, "")),
			[]*corev1alpha1.Pod{pod(0, prev), pod(1, prev), pod(2, upd, crashLooping, readySince(time.Second))}, upd,
			&appsv1alpha1.RollbackStatus{StableRevision: prev}, "", 0, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rp := planRollback(tc.set, tc.pods, revision(upd), []*appsv1.ControllerRevision{revision(prev), revision(cur)}, now)
			if rp.target.Name != tc.wantTarget || rp.pinned != (tc.wantTarget != upd) {
				t.Errorf("target = %s, pinned %v; want %s", rp.target.Name, rp.pinned, tc.wantTarget)
			}
			if diff := cmp.Diff(tc.wantStatus, rp.status); diff != "" {
				t.Errorf("status.rollback (-want +got):\n%s", diff)
			}
			if rp.recheck != tc.wantRecheck || rp.lostStable != tc.wantLost {
				t.Errorf("recheck = %s, lostStable %q; want %s, %q", rp.recheck, rp.lostStable, tc.wantRecheck, tc.wantLost)
			}
			switch c := rp.rolledBack; {
			case tc.wantReason == "" && c != nil:
				t.Errorf("started a rollback: %+v", c)
			case tc.wantReason == "":
			case c == nil:
				t.Errorf("started no rollback, want reason %s", tc.wantReason)
			case c.Type != appsv1alpha1.RolledBack || c.Status != corev1.ConditionTrue || c.Reason != tc.wantReason ||
				!strings.Contains(c.Message, "from revision "+upd+" to stable revision "+tc.wantTarget) || !strings.Contains(c.Message, "pod web-"):
				t.Errorf("condition = %+v, want RolledBack=True %s naming %s, %s and a pod", c, tc.wantReason, upd, tc.wantTarget)
			}
		})
	}
}

func TestApplyRollback(t *testing.T) {
	complete := func(s *appsv1alpha1.StatefulSetStatus) {
		s.ObservedGeneration, s.CurrentRevision, s.UpdateRevision = 3, upd, upd
		s.Replicas, s.ReadyReplicas, s.AvailableReplicas, s.UpdatedReplicas, s.CurrentReplicas = 3, 3, 3, 3, 3
	}
	unavailable := func(s *appsv1alpha1.StatefulSetStatus) { complete(s); s.AvailableReplicas = 2 }
	staleGeneration := func(s *appsv1alpha1.StatefulSetStatus) { complete(s); s.ObservedGeneration = 2 }
	scalingUp := func(s *appsv1alpha1.StatefulSetStatus) {
		complete(s)
		s.Replicas, s.ReadyReplicas, s.AvailableReplicas, s.UpdatedReplicas, s.CurrentReplicas = 2, 2, 2, 2, 2
	}
	earlier := appsv1.StatefulSetCondition{Type: appsv1alpha1.RolledBack, Status: corev1.ConditionTrue, Reason: appsv1alpha1.RollbackReasonCrashLoop, Message: "earlier"}
	other := appsv1.StatefulSetCondition{Type: "Other", Status: corev1.ConditionTrue}
	started := appsv1.StatefulSetCondition{Type: appsv1alpha1.RolledBack, Status: corev1.ConditionTrue, Reason: appsv1alpha1.RollbackReasonNotReady, Message: "now"}
	cases := []struct {
		name           string
		rp             rollbackPlan
		status         func(*appsv1alpha1.StatefulSetStatus)
		want           *appsv1alpha1.RollbackStatus
		wantConditions []appsv1.StatefulSetCondition
	}{
		{"no policy: status.rollback and the condition go", rollbackPlan{}, complete, nil, []appsv1.StatefulSetCondition{other}},
		{"a complete update becomes the stable revision", rollbackPlan{status: &appsv1alpha1.RollbackStatus{StableRevision: prev}}, complete,
			&appsv1alpha1.RollbackStatus{StableRevision: upd}, []appsv1.StatefulSetCondition{other}},
		{"an unavailable pod: not complete", rollbackPlan{status: &appsv1alpha1.RollbackStatus{StableRevision: prev}}, unavailable,
			&appsv1alpha1.RollbackStatus{StableRevision: prev}, []appsv1.StatefulSetCondition{other}},
		{"an unobserved generation: not complete", rollbackPlan{status: &appsv1alpha1.RollbackStatus{StableRevision: prev}}, staleGeneration,
			&appsv1alpha1.RollbackStatus{StableRevision: prev}, []appsv1.StatefulSetCondition{other}},
		{"fewer pods than spec.replicas: not complete", rollbackPlan{status: &appsv1alpha1.RollbackStatus{StableRevision: prev}}, scalingUp,
			&appsv1alpha1.RollbackStatus{StableRevision: prev}, []appsv1.StatefulSetCondition{other}},
		{"a rollback holding keeps its condition", rollbackPlan{pinned: true, status: &appsv1alpha1.RollbackStatus{StableRevision: prev, FailedRevision: upd}}, unavailable,
			&appsv1alpha1.RollbackStatus{StableRevision: prev, FailedRevision: upd}, []appsv1.StatefulSetCondition{earlier, other}},
		{"a rollback starting replaces the condition", rollbackPlan{pinned: true, rolledBack: &started, status: &appsv1alpha1.RollbackStatus{StableRevision: prev, FailedRevision: upd}}, unavailable,
			&appsv1alpha1.RollbackStatus{StableRevision: prev, FailedRevision: upd}, []appsv1.StatefulSetCondition{other, started}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			set := newSet(3)
			var status appsv1alpha1.StatefulSetStatus
			tc.status(&status)
			status.Rollback = &appsv1alpha1.RollbackStatus{StableRevision: "web-before"}
			status.Conditions = []appsv1.StatefulSetCondition{earlier, other}
			tc.rp.apply(set, &status)
			if diff := cmp.Diff(tc.want, status.Rollback); diff != "" {
				t.Errorf("status.rollback (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantConditions, status.Conditions); diff != "" {
				t.Errorf("conditions (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDesiredUpdated(t *testing.T) {
	cases := []struct {
		set  *appsv1alpha1.StatefulSet
		want int32
	}{
		{newSet(4), 4},
		{newSet(4, withPartition(2)), 2},
		{newSet(4, withPartition(6)), 0},
		{newSet(4, onDelete), 4},
	}
	for _, tc := range cases {
		if got := desiredUpdated(tc.set); got != tc.want {
			t.Errorf("desiredUpdated(%+v) = %d, want %d", tc.set.Spec.UpdateStrategy, got, tc.want)
		}
	}
}

func TestSoonest(t *testing.T) {
	cases := []struct{ a, b, want time.Duration }{
		{0, 0, 0},
		{time.Second, 0, time.Second},
		{0, time.Second, time.Second},
		{2 * time.Second, time.Second, time.Second},
		{time.Second, 2 * time.Second, time.Second},
	}
	for _, tc := range cases {
		if got := soonest(tc.a, tc.b); got != tc.want {
			t.Errorf("soonest(%s, %s) = %s, want %s", tc.a, tc.b, got, tc.want)
		}
	}
}

// While a rollback holds, the stable revision is the one rolled to: the plan replaces a
// pod of the failed revision that is not ready, which the update would wait for forever.
func TestPlanSyncRollsBackUnreadyPod(t *testing.T) {
	set := newSet(3)
	o := observe(set, []*corev1alpha1.Pod{pod(0, cur), pod(1, cur), pod(2, upd, crashLooping)}, nil, cur, cur, now)
	want := [][]string{{"delete web-2 RecreatingUnhealthyPod"}}
	if got := describe(set, planSync(o)); !cmp.Equal(got, want) {
		t.Fatalf("plan = %q, want %q", got, want)
	}
}
