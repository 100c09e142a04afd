package job

import (
	"fmt"
	"math"
	"slices"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/sets"

	batchv1alpha1 "github.com/kybern/kybern/api/batch/v1alpha1"
	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
)

// spec is a Job's spec with upstream's defaults for the fields whose default depends on
// others, which the CRD cannot persist: parallelism 1; completions 1 when neither it nor
// parallelism is set (a Job with only parallelism is a work queue, completions nil);
// backoffLimit 6, or unlimited when backoffLimitPerIndex takes its place.
type spec struct {
	parallelism int32
	completions *int32
	backoff     int32
	perIndex    *int32
	indexed     bool
}

func specOf(job *batchv1alpha1.Job) spec {
	s := job.Spec
	out := spec{parallelism: 1, completions: s.Completions, backoff: 6, perIndex: s.BackoffLimitPerIndex,
		indexed: s.CompletionMode != nil && *s.CompletionMode == batchv1.IndexedCompletion}
	if s.Parallelism != nil {
		out.parallelism = *s.Parallelism
	}
	if s.Completions == nil && s.Parallelism == nil {
		one := int32(1)
		out.completions = &one
	}
	switch {
	case s.BackoffLimit != nil:
		out.backoff = *s.BackoffLimit
	case s.BackoffLimitPerIndex != nil:
		out.backoff = math.MaxInt32
	}
	return out
}

// suspended reports whether spec.suspend holds the Job.
func suspended(job *batchv1alpha1.Job) bool {
	return job.Spec.Suspend != nil && *job.Spec.Suspend
}

// onlyReplaceFailed reports whether a replacement pod waits until the pod it replaces
// has failed, rather than starting while that pod terminates: podReplacementPolicy
// Failed, which is also the policy whenever a podFailurePolicy is set.
func onlyReplaceFailed(job *batchv1alpha1.Job) bool {
	if p := job.Spec.PodReplacementPolicy; p != nil {
		return *p == batchv1.Failed
	}
	return job.Spec.PodFailurePolicy != nil
}

// podFailed reports whether the Job counts the pod as failed: its phase is Failed or,
// where the Job does not wait for that phase, it is being deleted before it succeeded.
// The latter covers pods whose node is gone, which never reach a phase.
func podFailed(p *corev1alpha1.Pod, job *batchv1alpha1.Job) bool {
	if p.Status.Phase == corev1.PodFailed {
		return true
	}
	if onlyReplaceFailed(job) {
		return false
	}
	return p.DeletionTimestamp != nil && p.Status.Phase != corev1.PodSucceeded
}

// failureVerdict is what podFailurePolicy says of one failed pod.
type failureVerdict struct {
	// action is the matching rule's action, nil when no rule matches.
	action *batchv1.PodFailurePolicyAction
	// counts is whether the failure counts against backoffLimit and backoffLimitPerIndex:
	// every failure but an ignored one.
	counts bool
	// failJob is the Job's failure message when a FailJob rule matched.
	failJob string
}

// matchFailurePolicy applies policy's rules in order to a failed pod; the first rule
// that matches decides. An exit-code rule looks at terminated containers with a non-zero
// exit code, regular containers before init containers.
func matchFailurePolicy(policy *batchv1.PodFailurePolicy, p *corev1alpha1.Pod) failureVerdict {
	if policy == nil {
		return failureVerdict{counts: true}
	}
	for i, rule := range policy.Rules {
		var what string
		switch {
		case rule.OnExitCodes != nil:
			c := matchExitCodes(p, rule.OnExitCodes)
			if c == nil {
				continue
			}
			what = fmt.Sprintf("Container %s for pod %s/%s failed with exit code %d", c.Name, p.Namespace, p.Name, c.State.Terminated.ExitCode)
		case rule.OnPodConditions != nil:
			cond := matchPodConditions(p, rule.OnPodConditions)
			if cond == nil {
				continue
			}
			what = fmt.Sprintf("Pod %s/%s has condition %s", p.Namespace, p.Name, cond.Type)
		default:
			continue
		}
		action := rule.Action
		v := failureVerdict{action: &action, counts: action != batchv1.PodFailurePolicyActionIgnore}
		if action == batchv1.PodFailurePolicyActionFailJob {
			v.failJob = fmt.Sprintf("%s matching %s rule at index %d", what, action, i)
		}
		switch action {
		case batchv1.PodFailurePolicyActionFailJob, batchv1.PodFailurePolicyActionIgnore,
			batchv1.PodFailurePolicyActionCount, batchv1.PodFailurePolicyActionFailIndex:
			return v
		}
		// An action this controller does not know is skipped, as upstream's API says.
	}
	return failureVerdict{counts: true}
}

func matchExitCodes(p *corev1alpha1.Pod, req *batchv1.PodFailurePolicyOnExitCodesRequirement) *corev1.ContainerStatus {
	for _, list := range [][]corev1.ContainerStatus{p.Status.ContainerStatuses, p.Status.InitContainerStatuses} {
		for i := range list {
			c := &list[i]
			t := c.State.Terminated
			if t == nil || t.ExitCode == 0 || (req.ContainerName != nil && *req.ContainerName != c.Name) {
				continue
			}
			in := slices.Contains(req.Values, t.ExitCode)
			if (req.Operator == batchv1.PodFailurePolicyOnExitCodesOpIn && in) || (req.Operator == batchv1.PodFailurePolicyOnExitCodesOpNotIn && !in) {
				return c
			}
		}
	}
	return nil
}

func matchPodConditions(p *corev1alpha1.Pod, patterns []batchv1.PodFailurePolicyOnPodConditionsPattern) *corev1.PodCondition {
	for i := range p.Status.Conditions {
		c := &p.Status.Conditions[i]
		for _, pat := range patterns {
			status := pat.Status
			if status == "" {
				status = corev1.ConditionTrue
			}
			if c.Type == pat.Type && c.Status == status {
				return c
			}
		}
	}
	return nil
}

// matchSuccessPolicy reports the first successPolicy rule the succeeded indexes meet, as
// the SuccessCriteriaMet message. A rule with succeededIndexes is met when all of them
// succeeded, or succeededCount of them; a rule with only succeededCount when that many
// indexes succeeded.
func matchSuccessPolicy(policy *batchv1.SuccessPolicy, completions int32, succeeded sets.Set[int]) (string, bool) {
	if policy == nil || succeeded.Len() == 0 {
		return "", false
	}
	for i, rule := range policy.Rules {
		met := false
		if rule.SucceededIndexes != nil {
			want := parseIndexes(*rule.SucceededIndexes, completions)
			if want.Len() == 0 {
				continue
			}
			have := 0
			for ix := range want {
				if succeeded.Has(ix) {
					have++
				}
			}
			met = have == want.Len() || (rule.SucceededCount != nil && have >= int(*rule.SucceededCount))
		} else if rule.SucceededCount != nil {
			met = succeeded.Len() >= int(*rule.SucceededCount)
		}
		if met {
			return fmt.Sprintf("Matched rules at index %d", i), true
		}
	}
	return "", false
}

// pastBackoffLimitOnFailure reports, for restartPolicy OnFailure, whether the container
// restarts of the Job's running and pending pods reached backoffLimit: such pods restart
// their containers in place and never fail as a whole.
func pastBackoffLimitOnFailure(job *batchv1alpha1.Job, backoff int32, pods []*corev1alpha1.Pod) bool {
	if job.Spec.Template.Spec.RestartPolicy != corev1.RestartPolicyOnFailure {
		return false
	}
	var restarts int32
	for _, p := range pods {
		if p.Status.Phase != corev1.PodRunning && p.Status.Phase != corev1.PodPending {
			continue
		}
		for _, c := range p.Status.InitContainerStatuses {
			restarts += c.RestartCount
		}
		for _, c := range p.Status.ContainerStatuses {
			restarts += c.RestartCount
		}
	}
	if backoff == 0 {
		return restarts > 0
	}
	return restarts >= backoff
}

// finishedAt is when a finished pod ended: its last container's exit, else when it
// stopped being ready, else when its deletion began, else now.
func finishedAt(p *corev1alpha1.Pod, now time.Time) time.Time {
	var last time.Time
	for _, list := range [][]corev1.ContainerStatus{p.Status.InitContainerStatuses, p.Status.ContainerStatuses} {
		for _, c := range list {
			if t := c.State.Terminated; t != nil && t.FinishedAt.After(last) {
				last = t.FinishedAt.Time
			}
		}
	}
	if !last.IsZero() {
		return last
	}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady && c.Status == corev1.ConditionFalse && !c.LastTransitionTime.IsZero() {
			return c.LastTransitionTime.Time
		}
	}
	if p.DeletionTimestamp != nil {
		return p.DeletionTimestamp.Time
	}
	return now
}
