package job

import (
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/utils/ptr"

	batchv1alpha1 "github.com/kybern/kybern/api/batch/v1alpha1"
	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
)

var now = time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)

// failedPod is a Failed pod whose containers exited with the given codes, by name.
func failedPod(codes map[string]int32, conds ...corev1.PodConditionType) *corev1alpha1.Pod {
	p := &corev1alpha1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "p"}}
	p.Status.Phase = corev1.PodFailed
	for name, code := range codes {
		p.Status.ContainerStatuses = append(p.Status.ContainerStatuses, corev1.ContainerStatus{Name: name,
			State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: code}}})
	}
	for _, c := range conds {
		p.Status.Conditions = append(p.Status.Conditions, corev1.PodCondition{Type: c, Status: corev1.ConditionTrue})
	}
	return p
}

func exitRule(action batchv1.PodFailurePolicyAction, op batchv1.PodFailurePolicyOnExitCodesOperator, container string, codes ...int32) batchv1.PodFailurePolicyRule {
	req := &batchv1.PodFailurePolicyOnExitCodesRequirement{Operator: op, Values: codes}
	if container != "" {
		req.ContainerName = ptr.To(container)
	}
	return batchv1.PodFailurePolicyRule{Action: action, OnExitCodes: req}
}

func TestMatchFailurePolicy(t *testing.T) {
	in, notIn := batchv1.PodFailurePolicyOnExitCodesOpIn, batchv1.PodFailurePolicyOnExitCodesOpNotIn
	disruption := batchv1.PodFailurePolicyRule{Action: batchv1.PodFailurePolicyActionIgnore,
		OnPodConditions: []batchv1.PodFailurePolicyOnPodConditionsPattern{{Type: corev1.DisruptionTarget}}}
	cases := []struct {
		name       string
		rules      []batchv1.PodFailurePolicyRule
		pod        *corev1alpha1.Pod
		wantAction batchv1.PodFailurePolicyAction // "" for no match
		wantCounts bool
		wantMsg    string
	}{
		{"no rule matches: counted", []batchv1.PodFailurePolicyRule{exitRule(batchv1.PodFailurePolicyActionFailJob, in, "", 42)},
			failedPod(map[string]int32{"main": 1}), "", true, ""},
		{"FailJob on an exit code, with upstream's message", []batchv1.PodFailurePolicyRule{exitRule(batchv1.PodFailurePolicyActionFailJob, in, "", 42)},
			failedPod(map[string]int32{"main": 42}), batchv1.PodFailurePolicyActionFailJob, true,
			"Container main for pod ns/p failed with exit code 42 matching FailJob rule at index 0"},
		{"NotIn matches other non-zero codes", []batchv1.PodFailurePolicyRule{exitRule(batchv1.PodFailurePolicyActionCount, notIn, "", 1)},
			failedPod(map[string]int32{"main": 3}), batchv1.PodFailurePolicyActionCount, true, ""},
		{"exit code 0 never matches NotIn", []batchv1.PodFailurePolicyRule{exitRule(batchv1.PodFailurePolicyActionFailJob, notIn, "", 1)},
			failedPod(map[string]int32{"main": 0}), "", true, ""},
		{"containerName restricts the rule", []batchv1.PodFailurePolicyRule{exitRule(batchv1.PodFailurePolicyActionFailJob, in, "sidecar", 42)},
			failedPod(map[string]int32{"main": 42}), "", true, ""},
		{"the first matching rule decides", []batchv1.PodFailurePolicyRule{disruption, exitRule(batchv1.PodFailurePolicyActionIgnore, in, "", 2), exitRule(batchv1.PodFailurePolicyActionFailJob, in, "", 2)},
			failedPod(map[string]int32{"main": 2}), batchv1.PodFailurePolicyActionIgnore, false, ""},
		{"Ignore on a pod condition is not counted", []batchv1.PodFailurePolicyRule{disruption},
			failedPod(map[string]int32{"main": 137}, corev1.DisruptionTarget), batchv1.PodFailurePolicyActionIgnore, false, ""},
		{"FailIndex counts", []batchv1.PodFailurePolicyRule{exitRule(batchv1.PodFailurePolicyActionFailIndex, in, "", 7)},
			failedPod(map[string]int32{"main": 7}), batchv1.PodFailurePolicyActionFailIndex, true, ""},
		{"FailJob on a pod condition", []batchv1.PodFailurePolicyRule{{Action: batchv1.PodFailurePolicyActionFailJob,
			OnPodConditions: []batchv1.PodFailurePolicyOnPodConditionsPattern{{Type: corev1.DisruptionTarget, Status: corev1.ConditionTrue}}}},
			failedPod(map[string]int32{"main": 1}, corev1.DisruptionTarget), batchv1.PodFailurePolicyActionFailJob, true,
			"Pod ns/p has condition DisruptionTarget matching FailJob rule at index 0"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v := matchFailurePolicy(&batchv1.PodFailurePolicy{Rules: c.rules}, c.pod)
			gotAction := batchv1.PodFailurePolicyAction("")
			if v.action != nil {
				gotAction = *v.action
			}
			if gotAction != c.wantAction || v.counts != c.wantCounts || v.failJob != c.wantMsg {
				t.Errorf("got action %q counts %v message %q, want %q %v %q", gotAction, v.counts, v.failJob, c.wantAction, c.wantCounts, c.wantMsg)
			}
		})
	}
}

func TestMatchSuccessPolicy(t *testing.T) {
	rule := func(indexes string, count int32) batchv1.SuccessPolicyRule {
		r := batchv1.SuccessPolicyRule{}
		if indexes != "" {
			r.SucceededIndexes = ptr.To(indexes)
		}
		if count > 0 {
			r.SucceededCount = ptr.To(count)
		}
		return r
	}
	cases := []struct {
		name      string
		rules     []batchv1.SuccessPolicyRule
		succeeded sets.Set[int]
		want      string
	}{
		{"all named indexes succeeded", []batchv1.SuccessPolicyRule{rule("0,2-3", 0)}, sets.New(0, 2, 3), "Matched rules at index 0"},
		{"one named index missing", []batchv1.SuccessPolicyRule{rule("0,2-3", 0)}, sets.New(0, 2, 4), ""},
		{"count of the named indexes", []batchv1.SuccessPolicyRule{rule("0-4", 2)}, sets.New(1, 3, 9), "Matched rules at index 0"},
		{"count alone", []batchv1.SuccessPolicyRule{rule("1", 0), rule("", 3)}, sets.New(5, 6, 7), "Matched rules at index 1"},
		{"nothing succeeded", []batchv1.SuccessPolicyRule{rule("", 1)}, sets.New[int](), ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			msg, ok := matchSuccessPolicy(&batchv1.SuccessPolicy{Rules: c.rules}, 10, c.succeeded)
			if msg != c.want || ok != (c.want != "") {
				t.Errorf("got %q %v, want %q", msg, ok, c.want)
			}
		})
	}
}

func TestSpecDefaults(t *testing.T) {
	cases := []struct {
		name                         string
		spec                         batchv1.JobSpec
		wantParallelism, wantBackoff int32
		wantCompletions              *int32
	}{
		{"neither set: one pod, one completion", batchv1.JobSpec{}, 1, 6, ptr.To[int32](1)},
		{"parallelism alone: a work queue", batchv1.JobSpec{Parallelism: ptr.To[int32](3)}, 3, 6, nil},
		{"backoffLimitPerIndex lifts the Job-wide limit", batchv1.JobSpec{Completions: ptr.To[int32](4), BackoffLimitPerIndex: ptr.To[int32](1)}, 1, 1<<31 - 1, ptr.To[int32](4)},
		{"explicit backoffLimit", batchv1.JobSpec{BackoffLimit: ptr.To[int32](0)}, 1, 0, ptr.To[int32](1)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := specOf(&batchv1alpha1.Job{Spec: c.spec})
			if got.parallelism != c.wantParallelism || got.backoff != c.wantBackoff || !ptr.Equal(got.completions, c.wantCompletions) {
				t.Errorf("got parallelism %d backoff %d completions %v", got.parallelism, got.backoff, got.completions)
			}
		})
	}
}

func TestPodFailed(t *testing.T) {
	deleting := &corev1alpha1.Pod{ObjectMeta: metav1.ObjectMeta{DeletionTimestamp: &metav1.Time{Time: now}}}
	deleting.Status.Phase = corev1.PodRunning
	plain := &batchv1alpha1.Job{}
	waitFailed := &batchv1alpha1.Job{Spec: batchv1.JobSpec{PodReplacementPolicy: ptr.To(batchv1.Failed)}}
	withPolicy := &batchv1alpha1.Job{Spec: batchv1.JobSpec{PodFailurePolicy: &batchv1.PodFailurePolicy{}}}
	if !podFailed(deleting, plain) {
		t.Error("a terminating pod counts as failed under TerminatingOrFailed")
	}
	if podFailed(deleting, waitFailed) || podFailed(deleting, withPolicy) {
		t.Error("a terminating pod is not failed while the Job waits for the Failed phase")
	}
}

func TestPastBackoffLimitOnFailure(t *testing.T) {
	job := &batchv1alpha1.Job{}
	job.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyOnFailure
	running := func(restarts ...int32) *corev1alpha1.Pod {
		p := &corev1alpha1.Pod{}
		p.Status.Phase = corev1.PodRunning
		for _, n := range restarts {
			p.Status.ContainerStatuses = append(p.Status.ContainerStatuses, corev1.ContainerStatus{RestartCount: n})
		}
		return p
	}
	cases := []struct {
		name    string
		backoff int32
		pods    []*corev1alpha1.Pod
		want    bool
	}{
		{"restarts summed across pods and containers reach the limit", 3, []*corev1alpha1.Pod{running(1, 1), running(1)}, true},
		{"below the limit", 3, []*corev1alpha1.Pod{running(1), running(1)}, false},
		{"limit 0: any restart", 0, []*corev1alpha1.Pod{running(1)}, true},
		{"limit 0: no restart", 0, []*corev1alpha1.Pod{running(0)}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := pastBackoffLimitOnFailure(job, c.backoff, c.pods); got != c.want {
				t.Errorf("got %v, want %v", got, c.want)
			}
		})
	}
}
