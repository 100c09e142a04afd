// Package rollback decides when a rollout has failed, for the automatic rollback of
// Deployments, StatefulSets and DaemonSets (spec.rollbackPolicy). It judges pods and
// budgets; each workload controller owns what a rollback does to its revisions.
package rollback

import (
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	appsv1alpha1 "github.com/kybern/kybern/api/apps/v1alpha1"
	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
	"github.com/kybern/kybern/controllers/internal/podutil"
)

// Defaults of a trigger listed without its settings, or of all triggers when
// spec.rollbackPolicy.triggers is omitted.
const (
	DefaultCrashLoopRestarts = 3
	DefaultCrashLoopWindow   = 600 * time.Second
	DefaultNotReadyAfter     = 300 * time.Second
)

// Policy is a RollbackPolicy with its defaults applied. A zero duration or count turns
// its trigger off.
type Policy struct {
	ProgressDeadline  bool
	CrashLoopRestarts int32
	CrashLoopWindow   time.Duration
	NotReadyAfter     time.Duration
	MaxFailedPods     intstr.IntOrString
}

// Resolve applies the defaults to p; ok is false when p is nil (rollback off).
func Resolve(p *appsv1alpha1.RollbackPolicy) (pol Policy, ok bool) {
	if p == nil {
		return Policy{}, false
	}
	pol.MaxFailedPods = ptr.Deref(p.MaxFailedPods, intstr.FromInt32(0))
	t := p.Triggers
	if t == nil {
		t = &appsv1alpha1.RollbackTriggers{
			ProgressDeadline: &appsv1alpha1.ProgressDeadlineTrigger{},
			CrashLoop:        &appsv1alpha1.CrashLoopTrigger{},
			NotReady:         &appsv1alpha1.NotReadyTrigger{},
		}
	}
	pol.ProgressDeadline = t.ProgressDeadline != nil
	if c := t.CrashLoop; c != nil {
		pol.CrashLoopRestarts = ptr.Deref(c.Restarts, DefaultCrashLoopRestarts)
		pol.CrashLoopWindow = DefaultCrashLoopWindow
		if c.WindowSeconds != nil {
			pol.CrashLoopWindow = time.Duration(*c.WindowSeconds) * time.Second
		}
	}
	if n := t.NotReady; n != nil {
		pol.NotReadyAfter = DefaultNotReadyAfter
		if n.Seconds != nil {
			pol.NotReadyAfter = time.Duration(*n.Seconds) * time.Second
		}
	}
	return pol, true
}

// Verdict is how the pods of the revision being rolled out fare against a Policy.
type Verdict struct {
	// Failing counts the pods that crash loop or stay unready.
	Failing int
	// Reason is the trigger of the first failing pod (a RolledBack reason), and Detail
	// says which pod and why, for the condition's message.
	Reason, Detail string
	// Recheck is how long until a pod not yet failing would cross the not-ready
	// threshold; 0 when none would.
	Recheck time.Duration
}

// Judge classifies pods, the live pods of the revision being rolled out. A crash loop
// takes precedence over unreadiness in the reason. Pods being deleted are not judged.
func (pol Policy) Judge(pods []*corev1alpha1.Pod, now time.Time) Verdict {
	var v Verdict
	for _, p := range pods {
		if p.DeletionTimestamp != nil {
			continue
		}
		if detail, ok := pol.crashLooping(p, now); ok {
			v.fail(appsv1alpha1.RollbackReasonCrashLoop, detail)
			continue
		}
		if pol.NotReadyAfter == 0 || podutil.IsReady(p) {
			continue
		}
		since := unreadySince(p)
		if left := since.Add(pol.NotReadyAfter).Sub(now); left > 0 {
			if v.Recheck == 0 || left < v.Recheck {
				v.Recheck = left
			}
			continue
		}
		v.fail(appsv1alpha1.RollbackReasonNotReady,
			fmt.Sprintf("pod %s has not been ready for %s%s", p.Name, now.Sub(since).Round(time.Second), waitingReason(p)))
	}
	return v
}

func (v *Verdict) fail(reason, detail string) {
	v.Failing++
	if v.Reason == "" || (v.Reason != reason && reason == appsv1alpha1.RollbackReasonCrashLoop) {
		v.Reason, v.Detail = reason, detail
	}
}

// crashLooping reports whether a container of p restarted at least CrashLoopRestarts
// times and last terminated within CrashLoopWindow.
func (pol Policy) crashLooping(p *corev1alpha1.Pod, now time.Time) (string, bool) {
	if pol.CrashLoopRestarts == 0 {
		return "", false
	}
	for _, list := range [][]corev1.ContainerStatus{p.Status.InitContainerStatuses, p.Status.ContainerStatuses} {
		for _, cs := range list {
			last := cs.LastTerminationState.Terminated
			if cs.RestartCount < pol.CrashLoopRestarts || last == nil || now.Sub(last.FinishedAt.Time) > pol.CrashLoopWindow {
				continue
			}
			return fmt.Sprintf("pod %s: container %s restarted %d times, last exiting with code %d", p.Name, cs.Name, cs.RestartCount, last.ExitCode), true
		}
	}
	return "", false
}

// unreadySince is when p's unreadiness began: its creation, or the last transition of a
// Ready condition that is not True, whichever is later.
func unreadySince(p *corev1alpha1.Pod) time.Time {
	since := p.CreationTimestamp.Time
	if c := podutil.ReadyCondition(p); c != nil && c.Status != corev1.ConditionTrue && c.LastTransitionTime.After(since) {
		since = c.LastTransitionTime.Time
	}
	return since
}

// waitingReason names the first container's waiting reason, such as ImagePullBackOff.
func waitingReason(p *corev1alpha1.Pod) string {
	for _, list := range [][]corev1.ContainerStatus{p.Status.InitContainerStatuses, p.Status.ContainerStatuses} {
		for _, cs := range list {
			if w := cs.State.Waiting; w != nil && w.Reason != "" {
				return fmt.Sprintf(" (container %s: %s)", cs.Name, w.Reason)
			}
		}
	}
	return ""
}

// Exceeded reports whether failing pods are more than MaxFailedPods of desired, the
// pods the failing revision should have; a percentage rounds down.
func (pol Policy) Exceeded(failing int, desired int32) bool {
	if failing == 0 {
		return false
	}
	budget, err := intstr.GetScaledValueFromIntOrPercent(&pol.MaxFailedPods, int(desired), false)
	if err != nil {
		// The CRD refuses a malformed value; one that slipped past allows no failures.
		budget = 0
	}
	return failing > budget
}

// Message is the RolledBack condition's message, the same on every kind.
func Message(failedRevision, stableRevision, detail string) string {
	return fmt.Sprintf("Rolled back from revision %s to stable revision %s: %s; it is not tried again until spec.template changes", failedRevision, stableRevision, detail)
}
