package rollback

import (
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	appsv1alpha1 "github.com/kybern/kybern/api/apps/v1alpha1"
	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
)

var now = time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)

func TestResolve(t *testing.T) {
	for _, tc := range []struct {
		name   string
		policy *appsv1alpha1.RollbackPolicy
		want   Policy
		on     bool
	}{
		{name: "nil is off"},
		{name: "empty applies every trigger with its defaults", policy: &appsv1alpha1.RollbackPolicy{}, on: true,
			want: Policy{ProgressDeadline: true, CrashLoopRestarts: 3, CrashLoopWindow: 600 * time.Second, NotReadyAfter: 300 * time.Second, MaxFailedPods: intstr.FromInt32(0)}},
		{name: "listed triggers only, defaults filled in", on: true,
			policy: &appsv1alpha1.RollbackPolicy{Triggers: &appsv1alpha1.RollbackTriggers{CrashLoop: &appsv1alpha1.CrashLoopTrigger{}}, MaxFailedPods: ptr.To(intstr.FromString("25%"))},
			want:   Policy{CrashLoopRestarts: 3, CrashLoopWindow: 600 * time.Second, MaxFailedPods: intstr.FromString("25%")}},
		{name: "settings given", on: true,
			policy: &appsv1alpha1.RollbackPolicy{Triggers: &appsv1alpha1.RollbackTriggers{
				CrashLoop: &appsv1alpha1.CrashLoopTrigger{Restarts: ptr.To[int32](2), WindowSeconds: ptr.To[int32](60)},
				NotReady:  &appsv1alpha1.NotReadyTrigger{Seconds: ptr.To[int32](10)},
			}, MaxFailedPods: ptr.To(intstr.FromInt32(1))},
			want: Policy{CrashLoopRestarts: 2, CrashLoopWindow: time.Minute, NotReadyAfter: 10 * time.Second, MaxFailedPods: intstr.FromInt32(1)}},
		{name: "no triggers listed fires on nothing", on: true,
			policy: &appsv1alpha1.RollbackPolicy{Triggers: &appsv1alpha1.RollbackTriggers{}},
			want:   Policy{MaxFailedPods: intstr.FromInt32(0)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, on := Resolve(tc.policy)
			if on != tc.on || got != tc.want {
				t.Errorf("Resolve = %+v, %v; want %+v, %v", got, on, tc.want, tc.on)
			}
		})
	}
}

type podOpt func(*corev1alpha1.Pod)

func pod(name string, age time.Duration, opts ...podOpt) *corev1alpha1.Pod {
	p := &corev1alpha1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, CreationTimestamp: metav1.NewTime(now.Add(-age))}}
	for _, o := range opts {
		o(p)
	}
	return p
}

func ready(status corev1.ConditionStatus, ago time.Duration) podOpt {
	return func(p *corev1alpha1.Pod) {
		p.Status.Conditions = append(p.Status.Conditions, corev1.PodCondition{Type: corev1.PodReady, Status: status, LastTransitionTime: metav1.NewTime(now.Add(-ago))})
	}
}

func restarted(n int32, ago time.Duration) podOpt {
	return func(p *corev1alpha1.Pod) {
		p.Status.ContainerStatuses = append(p.Status.ContainerStatuses, corev1.ContainerStatus{
			Name: "app", RestartCount: n,
			State:                corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}},
			LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 1, FinishedAt: metav1.NewTime(now.Add(-ago))}},
		})
	}
}

func waiting(reason string) podOpt {
	return func(p *corev1alpha1.Pod) {
		p.Status.ContainerStatuses = append(p.Status.ContainerStatuses, corev1.ContainerStatus{
			Name: "app", State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reason}},
		})
	}
}

func deleting(p *corev1alpha1.Pod) { p.DeletionTimestamp = ptr.To(metav1.NewTime(now)) }

func TestJudge(t *testing.T) {
	all := Policy{CrashLoopRestarts: 3, CrashLoopWindow: 10 * time.Minute, NotReadyAfter: time.Minute}
	for _, tc := range []struct {
		name        string
		policy      Policy
		pods        []*corev1alpha1.Pod
		failing     int
		reason      string
		detail      string
		wantRecheck time.Duration
	}{
		{name: "ready pods do not fail", policy: all,
			pods: []*corev1alpha1.Pod{pod("a", time.Hour, ready(corev1.ConditionTrue, 50*time.Minute))}},
		{name: "a young unready pod is looked at again when it would cross the threshold", policy: all,
			pods: []*corev1alpha1.Pod{pod("a", 20*time.Second), pod("b", 45*time.Second)}, wantRecheck: 15 * time.Second},
		{name: "unready past the threshold fails, with its waiting reason", policy: all,
			pods:    []*corev1alpha1.Pod{pod("a", 2*time.Minute, waiting("ImagePullBackOff"))},
			failing: 1, reason: appsv1alpha1.RollbackReasonNotReady, detail: "pod a has not been ready for 2m0s (container app: ImagePullBackOff)"},
		{name: "unreadiness counts from the last transition to unready", policy: all,
			pods: []*corev1alpha1.Pod{pod("a", time.Hour, ready(corev1.ConditionFalse, 30*time.Second))}, wantRecheck: 30 * time.Second},
		{name: "a crash loop within the window fails and takes precedence in the reason", policy: all,
			pods:    []*corev1alpha1.Pod{pod("a", 2*time.Minute), pod("b", 5*time.Minute, restarted(3, time.Minute))},
			failing: 2, reason: appsv1alpha1.RollbackReasonCrashLoop, detail: "pod b: container app restarted 3 times, last exiting with code 1"},
		{name: "restarts long ago are not a crash loop", policy: Policy{CrashLoopRestarts: 3, CrashLoopWindow: 10 * time.Minute},
			pods: []*corev1alpha1.Pod{pod("a", time.Hour, restarted(5, 20*time.Minute))}},
		{name: "fewer restarts than the trigger are not a crash loop", policy: Policy{CrashLoopRestarts: 3, CrashLoopWindow: 10 * time.Minute},
			pods: []*corev1alpha1.Pod{pod("a", time.Hour, restarted(2, time.Second))}},
		{name: "pods being deleted are not judged", policy: all,
			pods: []*corev1alpha1.Pod{pod("a", time.Hour, deleting, restarted(9, time.Second))}},
		{name: "with the not-ready trigger off an unready pod is fine", policy: Policy{CrashLoopRestarts: 3, CrashLoopWindow: time.Minute},
			pods: []*corev1alpha1.Pod{pod("a", time.Hour)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := tc.policy.Judge(tc.pods, now)
			if v.Failing != tc.failing || v.Reason != tc.reason || v.Detail != tc.detail || v.Recheck != tc.wantRecheck {
				t.Errorf("Judge = %+v; want failing %d, reason %q, detail %q, recheck %s", v, tc.failing, tc.reason, tc.detail, tc.wantRecheck)
			}
		})
	}
}

func TestExceeded(t *testing.T) {
	for _, tc := range []struct {
		budget  intstr.IntOrString
		failing int
		desired int32
		want    bool
	}{
		{intstr.FromInt32(0), 0, 4, false},
		{intstr.FromInt32(0), 1, 4, true},
		{intstr.FromInt32(1), 1, 4, false},
		{intstr.FromInt32(1), 2, 4, true},
		{intstr.FromString("25%"), 1, 4, false},
		{intstr.FromString("25%"), 2, 4, true},
		{intstr.FromString("25%"), 1, 3, true}, // 25 % of 3 rounds down to 0
		{intstr.FromString("bad"), 1, 10, true},
	} {
		pol := Policy{MaxFailedPods: tc.budget}
		if got := pol.Exceeded(tc.failing, tc.desired); got != tc.want {
			t.Errorf("Exceeded(%d of %d, budget %s) = %v; want %v", tc.failing, tc.desired, tc.budget.String(), got, tc.want)
		}
	}
}

func TestMessageNamesBothRevisionsAndTheCause(t *testing.T) {
	m := Message("web-7d9f", "web-5c4f", "pod a has not been ready for 2m0s")
	for _, want := range []string{"web-7d9f", "web-5c4f", "pod a has not been ready", "spec.template"} {
		if !strings.Contains(m, want) {
			t.Errorf("message %q lacks %q", m, want)
		}
	}
}
