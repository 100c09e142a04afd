package cronjob

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	batchv1alpha1 "github.com/kybern/kybern/api/batch/v1alpha1"
)

// sync updates cj.Status from the Jobs it owns and, unless the CronJob is being deleted,
// suspended or its spec is unusable, starts the Job for the latest schedule time that is
// due. It returns when the next schedule time comes; a spec problem gets a Warning event
// and no requeue, since only an edit of the spec (which triggers a reconcile) can fix it.
func (r *Reconciler) sync(ctx context.Context, cj *batchv1alpha1.CronJob, jobs []*batchv1alpha1.Job) (ctrl.Result, error) {
	if err := r.reconcileActive(ctx, cj, jobs); err != nil {
		return ctrl.Result{}, err
	}
	if cj.DeletionTimestamp != nil {
		return ctrl.Result{}, nil
	}
	logger := log.FromContext(ctx)
	if _, err := timeZone(cj); err != nil {
		r.warnSpec(cj, err)
		return ctrl.Result{}, nil
	}
	if ptr.Deref(cj.Spec.Suspend, false) {
		logger.V(1).Info("Starting no Job: spec.suspend is true")
		return ctrl.Result{}, nil
	}
	sched, err := parseSchedule(cj)
	if err != nil {
		r.warnSpec(cj, err)
		return ctrl.Result{}, nil
	}
	now := r.Clock.Now()
	// The next wait is computed from the status as it ends up, after a create moved
	// status.lastScheduleTime.
	next := func() ctrl.Result { return ctrl.Result{RequeueAfter: nextRequeue(cj, now, sched)} }

	// With spec.startingDeadlineSeconds the window starts no earlier than now minus the
	// deadline, so a time too late to start is never returned: it is skipped silently.
	_, scheduled, missed, err := mostRecentScheduleTime(cj, now, sched, true)
	if err != nil {
		r.Recorder.Eventf(cj, corev1.EventTypeWarning, "InvalidSchedule", "spec.schedule %q: %v", cj.Spec.Schedule, err)
		return ctrl.Result{}, nil
	}
	if scheduled == nil {
		return next(), nil
	}
	if missed == manyMissed {
		r.Recorder.Eventf(cj, corev1.EventTypeWarning, "TooManyMissedTimes",
			"More than %d start times were missed; starting only the latest, %s: set or decrease spec.startingDeadlineSeconds, or check the clocks of the controller and the apiserver",
			tooManyMissed, scheduled.UTC().Format(time.RFC3339))
		logger.Info("Too many missed start times; starting only the latest", "scheduledTime", scheduled)
	}
	if inActiveByName(cj, jobName(cj, *scheduled)) ||
		(cj.Status.LastScheduleTime != nil && cj.Status.LastScheduleTime.Time.Equal(*scheduled)) {
		return next(), nil
	}
	switch cj.Spec.ConcurrencyPolicy {
	case batchv1.ForbidConcurrent:
		if len(cj.Status.Active) > 0 {
			logger.V(1).Info("Starting no Job: spec.concurrencyPolicy is Forbid and a Job is active", "scheduledTime", scheduled)
			r.Recorder.Event(cj, corev1.EventTypeNormal, "JobAlreadyActive",
				"Not starting job because prior execution is running and spec.concurrencyPolicy is Forbid")
			return next(), nil
		}
	case batchv1.ReplaceConcurrent:
		for _, ref := range slices.Clone(cj.Status.Active) {
			logger.V(1).Info("Deleting Job still active at the next schedule time", "job", ref.Name)
			if err := r.deleteJob(ctx, cj, ref.Name, ref.UID); err != nil {
				return ctrl.Result{}, err
			}
		}
	}
	if err := r.startJob(ctx, cj, *scheduled); err != nil {
		return ctrl.Result{}, err
	}
	return next(), nil
}

// warnSpec reports a *scheduleError as a Warning event on the CronJob.
func (r *Reconciler) warnSpec(cj *batchv1alpha1.CronJob, err error) {
	var se *scheduleError
	if errors.As(err, &se) {
		r.Recorder.Event(cj, corev1.EventTypeWarning, se.Reason, se.Message)
	}
}

// reconcileActive makes status.active list exactly the unfinished Jobs the controller
// started, and moves status.lastSuccessfulTime to the latest completion. A Job finished
// while listed gets SawCompletedJob; a listed Job that no longer exists gets MissingJob;
// an unfinished owned Job that is not listed gets UnexpectedJob, unless the apiserver's
// CronJob lists it, which means the cache is stale (errStaleCronJob).
func (r *Reconciler) reconcileActive(ctx context.Context, cj *batchv1alpha1.CronJob, jobs []*batchv1alpha1.Job) error {
	owned := make(map[types.UID]bool, len(jobs))
	for _, j := range jobs {
		owned[j.UID] = true
		listed := inActive(cj, j.UID)
		cond := finishedCondition(j)
		switch {
		case cond == "" && !listed:
			fresh := &batchv1alpha1.CronJob{}
			if err := r.APIReader.Get(ctx, client.ObjectKeyFromObject(cj), fresh); err != nil {
				return fmt.Errorf("reading CronJob %s/%s: %w", cj.Namespace, cj.Name, err)
			}
			if inActive(fresh, j.UID) {
				return errStaleCronJob
			}
			r.Recorder.Eventf(cj, corev1.EventTypeWarning, "UnexpectedJob", "Saw a job that the controller did not create or forgot: %s", j.Name)
		case cond != "" && listed:
			removeActive(cj, j.UID)
			r.Recorder.Eventf(cj, corev1.EventTypeNormal, "SawCompletedJob", "Saw completed job: %s, condition: %s", j.Name, cond)
		}
		done := j.Status.CompletionTime
		if cond == batchv1.JobComplete && done != nil &&
			(cj.Status.LastSuccessfulTime == nil || done.After(cj.Status.LastSuccessfulTime.Time)) {
			cj.Status.LastSuccessfulTime = done.DeepCopy()
		}
	}
	for _, ref := range slices.Clone(cj.Status.Active) {
		if owned[ref.UID] {
			continue
		}
		// The cache may not have seen a Job the controller just made: ask the apiserver.
		got := &batchv1alpha1.Job{}
		err := r.APIReader.Get(ctx, types.NamespacedName{Namespace: cj.Namespace, Name: ref.Name}, got)
		switch {
		case apierrors.IsNotFound(err) || (err == nil && got.UID != ref.UID):
			removeActive(cj, ref.UID)
			r.Recorder.Eventf(cj, corev1.EventTypeNormal, "MissingJob", "Active job went missing: %s", ref.Name)
		case err != nil:
			return fmt.Errorf("reading Job %s/%s listed in status.active: %w", cj.Namespace, ref.Name, err)
		}
	}
	return nil
}

// startJob creates the Job for one schedule time and lists it in status.active with
// status.lastScheduleTime. A Job of that name the CronJob already controls (a retry after
// a lost status write) is listed instead of created again.
func (r *Reconciler) startJob(ctx context.Context, cj *batchv1alpha1.CronJob, scheduled time.Time) error {
	loc := time.UTC
	if cj.Spec.TimeZone != nil {
		loc, _ = timeZone(cj) // sync already refused an unknown spec.timeZone
	}
	job := newJob(cj, scheduled, loc)
	logger := log.FromContext(ctx).WithValues("job", job.Name, "scheduledTime", scheduled)
	logger.V(1).Info("Creating Job")
	err := r.Create(ctx, job)
	switch {
	case apierrors.IsAlreadyExists(err):
		existing := &batchv1alpha1.Job{}
		if err := r.APIReader.Get(ctx, client.ObjectKeyFromObject(job), existing); err != nil {
			return fmt.Errorf("reading existing Job %s/%s: %w", job.Namespace, job.Name, err)
		}
		if !metav1.IsControlledBy(existing, cj) {
			r.Recorder.Eventf(cj, corev1.EventTypeWarning, "FailedCreate",
				"Job %s already exists and is not controlled by this CronJob: delete or rename it so the run scheduled for %s can start",
				job.Name, scheduled.UTC().Format(time.RFC3339))
			return nil
		}
		if inActive(cj, existing.UID) {
			return nil
		}
		logger.Info("Job already exists; listing it as active")
		job = existing
	case apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause):
		return fmt.Errorf("creating Job %s/%s: namespace is terminating: %w", job.Namespace, job.Name, err)
	case err != nil:
		r.Recorder.Eventf(cj, corev1.EventTypeWarning, "FailedCreate", "Error creating job %s: %v", job.Name, err)
		return fmt.Errorf("creating Job %s/%s: %w", job.Namespace, job.Name, err)
	default:
		r.Recorder.Eventf(cj, corev1.EventTypeNormal, "SuccessfulCreate", "Created job %s", job.Name)
	}
	cj.Status.Active = append(cj.Status.Active, jobRef(job))
	cj.Status.LastScheduleTime = &metav1.Time{Time: scheduled}
	return nil
}

// deleteJob deletes one of the CronJob's Jobs in the background (its pods go through the
// garbage collector) and drops it from status.active. A Job already gone counts as deleted.
func (r *Reconciler) deleteJob(ctx context.Context, cj *batchv1alpha1.CronJob, name string, uid types.UID) error {
	job := &batchv1alpha1.Job{}
	job.Namespace, job.Name = cj.Namespace, name
	err := r.Delete(ctx, job, client.PropagationPolicy(metav1.DeletePropagationBackground), client.Preconditions{UID: &uid})
	switch {
	case apierrors.IsNotFound(err):
	case err != nil:
		r.Recorder.Eventf(cj, corev1.EventTypeWarning, "FailedDelete", "Deleting job %s: %v", name, err)
		return fmt.Errorf("deleting Job %s/%s: %w", cj.Namespace, name, err)
	default:
		r.Recorder.Eventf(cj, corev1.EventTypeNormal, "SuccessfulDelete", "Deleted job %s", name)
	}
	removeActive(cj, uid)
	return nil
}
