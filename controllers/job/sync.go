package job

import (
	"context"
	"errors"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"

	batchv1alpha1 "github.com/kybern/kybern/api/batch/v1alpha1"
	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
	"github.com/kybern/kybern/controllers/internal/podutil"
)

// syncState is what one reconcile knows of a Job and its pods.
type syncState struct {
	key  string
	job  *batchv1alpha1.Job // a copy; its status is rewritten by the reconcile
	spec spec
	now  time.Time
	// pods are every pod the Job controls; active those still running toward completion.
	pods        []*corev1alpha1.Pod
	active      []*corev1alpha1.Pod
	ready       int32
	terminating int32
	// uncounted are the UIDs in status.uncountedTerminatedPods when the reconcile began.
	uncountedSucceeded, uncountedFailed sets.Set[types.UID]
	// removing are pods whose finalizer removal this controller has not yet seen.
	removing sets.Set[types.UID]
	// succeeded and failed are the counts once every finished pod is counted.
	succeeded, failed int32
	// Indexed Jobs: the indexes that succeeded before this reconcile and now, those failed
	// for good (nil without backoffLimitPerIndex), and the last failed pod of each index
	// still to be replaced, whose finalizer stays until its replacement inherits its count.
	prevSucceededIx, succeededIx, failedIx sets.Set[int]
	replaced                               map[int]*corev1alpha1.Pod
	// finish is the condition the Job is heading for: SuccessCriteriaMet or
	// FailureTarget first, then Complete or Failed once its pods are gone.
	finish  *batchv1.JobCondition
	backoff backoffRecord
	requeue time.Duration
}

// requeueWithin makes the reconcile come back within d, if d is positive.
func (s *syncState) requeueWithin(d time.Duration) {
	if d > 0 && (s.requeue == 0 || d < s.requeue) {
		s.requeue = d
	}
}

func (r *Reconciler) sync(ctx context.Context, job *batchv1alpha1.Job, pods []*corev1alpha1.Pod, removing sets.Set[types.UID], satisfied bool) (ctrl.Result, error) {
	s := r.newState(job, pods, removing)
	if job.Status.StartTime == nil && !suspended(job) {
		job.Status.StartTime = &metav1.Time{Time: s.now}
	}
	r.judge(s)

	active := int32(len(s.active))
	var manageErr error
	suspendChanged := false
	if s.finish != nil {
		deleted, err := r.deleteActive(ctx, s)
		if deleted != active || !satisfied {
			// Some pods may not be gone yet, or not yet in the cache: not finished yet.
			s.finish = nil
		}
		active -= deleted
		manageErr = err
	} else {
		managed := false
		if satisfied && job.DeletionTimestamp == nil {
			active, manageErr = r.manage(ctx, s)
			managed = true
		}
		if complete(s, active) {
			s.finish = condition(batchv1.JobSuccessCriteriaMet, batchv1.JobReasonCompletionsReached, "Reached expected number of succeeded pods", s.now)
		} else if managed {
			suspendChanged = r.setSuspended(s)
		}
	}
	needsFlush := suspendChanged || active != job.Status.Active || !ptr.Equal(job.Status.Ready, &s.ready) ||
		!ptr.Equal(job.Status.Terminating, &s.terminating)
	job.Status.Active = active
	job.Status.Ready = ptr.To(s.ready)
	job.Status.Terminating = ptr.To(s.terminating)
	if err := r.track(ctx, s, needsFlush); err != nil {
		if errors.Is(err, errStale) {
			return ctrl.Result{}, manageErr
		}
		return ctrl.Result{}, err
	}
	return ctrl.Result{RequeueAfter: s.requeue}, manageErr
}

// newState is the reconcile's view: removing are the pods whose finalizer removal was
// not yet seen when pods were read.
func (r *Reconciler) newState(job *batchv1alpha1.Job, pods []*corev1alpha1.Pod, removing sets.Set[types.UID]) *syncState {
	s := &syncState{key: types.NamespacedName{Namespace: job.Namespace, Name: job.Name}.String(), job: job,
		spec: specOf(job), now: r.Clock.Now(), pods: pods, removing: removing,
		uncountedSucceeded: sets.New[types.UID](), uncountedFailed: sets.New[types.UID]()}
	if u := job.Status.UncountedTerminatedPods; u != nil {
		s.uncountedSucceeded.Insert(u.Succeeded...)
		s.uncountedFailed.Insert(u.Failed...)
	}
	for _, p := range pods {
		switch {
		case podutil.IsActive(p):
			s.active = append(s.active, p)
			if podutil.IsReady(p) {
				s.ready++
			}
		case podutil.IsTerminating(p):
			s.terminating++
		}
	}
	return s
}

// judge counts the finished pods and decides whether the Job is done: successPolicy or
// the completions reached, or one of upstream's failures, in upstream's order.
func (r *Reconciler) judge(s *syncState) {
	job, sp := s.job, s.spec
	newSucceeded, newFailed := r.newlyFinished(s)
	s.succeeded = job.Status.Succeeded + int32(len(newSucceeded)) + int32(s.uncountedSucceeded.Len())
	s.failed = job.Status.Failed + int32(s.uncountedFailed.Len())
	for _, p := range newFailed {
		if matchFailurePolicy(job.Spec.PodFailurePolicy, p).counts {
			s.failed++
		}
	}
	s.backoff = r.backoff.next(s.key, newSucceeded, newFailed, s.now)

	if c := trueCondition(job, batchv1.JobSuccessCriteriaMet); c != nil {
		s.finish = c.DeepCopy()
	} else if c := trueCondition(job, batchv1.JobFailureTarget); c != nil {
		s.finish = c.DeepCopy()
	} else if msg := r.failJobMessage(s); msg != "" {
		s.finish = condition(batchv1.JobFailureTarget, batchv1.JobReasonPodFailurePolicy, msg, s.now)
	}
	if s.finish == nil {
		switch {
		case s.failed > sp.backoff || pastBackoffLimitOnFailure(job, sp.backoff, s.pods):
			s.finish = condition(batchv1.JobFailureTarget, batchv1.JobReasonBackoffLimitExceeded, "Job has reached the specified backoff limit", s.now)
		case job.Spec.ActiveDeadlineSeconds != nil && job.Status.StartTime != nil && !suspended(job):
			left := job.Status.StartTime.Add(time.Duration(*job.Spec.ActiveDeadlineSeconds) * time.Second).Sub(s.now)
			if left <= 0 {
				s.finish = condition(batchv1.JobFailureTarget, batchv1.JobReasonDeadlineExceeded, "Job was active longer than specified deadline", s.now)
			}
			s.requeueWithin(left)
		}
	}
	if sp.indexed {
		r.judgeIndexes(s)
	}
}

// judgeIndexes counts an Indexed Job's succeeded and failed indexes and applies
// maxFailedIndexes and successPolicy.
func (r *Reconciler) judgeIndexes(s *syncState) {
	job, completions := s.job, *s.spec.completions
	s.prevSucceededIx = parseIndexes(job.Status.CompletedIndexes, completions)
	s.succeededIx = s.prevSucceededIx.Clone()
	for _, p := range s.pods {
		if p.Status.Phase == corev1.PodSucceeded && validIndex(p, completions) && hasTrackingFinalizer(p) && !s.removing.Has(p.UID) {
			s.succeededIx.Insert(completionIndex(p))
		}
	}
	s.succeeded = int32(s.succeededIx.Len())
	if s.spec.perIndex != nil {
		s.failedIx = r.failedIndexes(s)
		if s.finish == nil {
			switch failed := s.failedIx.Len(); {
			case job.Spec.MaxFailedIndexes != nil && failed > int(*job.Spec.MaxFailedIndexes):
				s.finish = condition(batchv1.JobFailureTarget, batchv1.JobReasonMaxFailedIndexesExceeded, "Job has exceeded the specified maximal number of failed indexes", s.now)
			case failed > 0 && failed+s.succeededIx.Len() >= int(completions):
				s.finish = condition(batchv1.JobFailureTarget, batchv1.JobReasonFailedIndexes, "Job has failed indexes", s.now)
			}
		}
		s.replaced = r.awaitingReplacement(s)
	}
	if s.finish == nil {
		if msg, ok := matchSuccessPolicy(job.Spec.SuccessPolicy, completions, s.succeededIx); ok {
			s.finish = condition(batchv1.JobSuccessCriteriaMet, batchv1.JobReasonSuccessPolicy, msg, s.now)
		}
	}
}

// complete reports whether the Job reached its completions with no pod left running. A
// work queue (no completions) is complete once one pod succeeded and the rest finished.
func complete(s *syncState, active int32) bool {
	if active != 0 {
		return false
	}
	if s.spec.completions == nil {
		return s.succeeded > 0
	}
	return s.succeeded >= *s.spec.completions
}

// setSuspended keeps the Suspended condition in step with spec.suspend, and restarts the
// activeDeadlineSeconds clock on resume, as that deadline counts continuous activity. It
// reports whether the status changed.
func (r *Reconciler) setSuspended(s *syncState) bool {
	job := s.job
	status, reason, message, event := corev1.ConditionFalse, "JobResumed", "Job resumed", "Resumed"
	if suspended(job) {
		status, reason, message, event = corev1.ConditionTrue, "JobSuspended", "Job suspended", "Suspended"
	}
	c := findCondition(job, batchv1.JobSuspended)
	if c == nil && status == corev1.ConditionFalse {
		return false
	}
	if c != nil && c.Status == status {
		return false
	}
	setCondition(job, batchv1.JobCondition{Type: batchv1.JobSuspended, Status: status, Reason: reason, Message: message}, s.now)
	r.Recorder.Event(job, corev1.EventTypeNormal, event, message)
	if status == corev1.ConditionFalse {
		job.Status.StartTime = &metav1.Time{Time: s.now}
	} else {
		// A suspended Job has not started, which also lets its scheduling directives change.
		job.Status.StartTime = nil
	}
	return true
}

// failJobMessage is the message of the first failed pod a FailJob rule matches.
func (r *Reconciler) failJobMessage(s *syncState) string {
	if s.job.Spec.PodFailurePolicy == nil {
		return ""
	}
	for _, p := range s.pods {
		if podFailed(p, s.job) {
			if v := matchFailurePolicy(s.job.Spec.PodFailurePolicy, p); v.failJob != "" {
				return v.failJob
			}
		}
	}
	return ""
}
