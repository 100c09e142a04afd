package job

import (
	"context"
	"errors"
	"fmt"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/sets"
	"sigs.k8s.io/controller-runtime/pkg/log"

	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
)

// errStale stops a reconcile whose Job changed meanwhile: the newer Job's event brings
// the controller back, and what was written so far is safe to redo.
var errStale = errors.New("job changed since it was read")

// track counts the Job's finished pods in three durable steps: record the UIDs of newly
// finished pods (and the interim SuccessCriteriaMet or FailureTarget condition) in the
// status; remove their finalizers; move the UIDs whose finalizer is gone into the
// succeeded and failed counters. Once nothing is uncounted and no pod is terminating, a
// finishing Job gets its Complete or Failed condition. needsFlush says whether the
// status already differs from what the apiserver holds.
func (r *Reconciler) track(ctx context.Context, s *syncState, needsFlush bool) error {
	job := s.job
	if job.Status.UncountedTerminatedPods == nil {
		job.Status.UncountedTerminatedPods = &batchv1.UncountedTerminatedPods{}
	}
	uncounted := job.Status.UncountedTerminatedPods
	withFinalizer := sets.New[types.UID]()
	for _, p := range s.pods {
		if hasTrackingFinalizer(p) && !s.removing.Has(p.UID) {
			withFinalizer.Insert(p.UID)
		}
	}
	needsFlush = countReleased(&job.Status, withFinalizer) || needsFlush

	var release []*corev1alpha1.Pod
	newIx := sets.New[int]()
	full := false
	for _, p := range s.pods {
		if !hasTrackingFinalizer(p) || s.removing.Has(p.UID) {
			continue
		}
		failed := podFailed(p, job)
		if !s.canRelease(p, failed) {
			continue
		}
		release = append(release, p)
		switch {
		case p.Status.Phase == corev1.PodSucceeded && !s.uncountedFailed.Has(p.UID):
			if s.spec.indexed {
				if ix := completionIndex(p); validIndex(p, *s.spec.completions) && !s.prevSucceededIx.Has(ix) {
					newIx.Insert(ix)
					needsFlush = true
				}
			} else if !s.uncountedSucceeded.Has(p.UID) {
				uncounted.Succeeded = append(uncounted.Succeeded, p.UID)
				needsFlush = true
			}
		case failed || (s.finish != nil && s.finish.Type != batchv1.JobSuccessCriteriaMet):
			// A finishing Job counts every pod it stops as failed.
			if s.uncountedFailed.Has(p.UID) || (s.spec.indexed && !validIndex(p, *s.spec.completions)) {
				break
			}
			if matchFailurePolicy(job.Spec.PodFailurePolicy, p).counts {
				uncounted.Failed = append(uncounted.Failed, p.UID)
				needsFlush = true
			}
		}
		if newIx.Len()+len(uncounted.Succeeded)+len(uncounted.Failed) >= maxUncountedPods {
			// The rest waits for the next reconcile, which this one's writes trigger.
			full = true
			break
		}
	}
	if s.spec.indexed {
		needsFlush = setIndexes(s, newIx) || needsFlush
	}
	needsFlush = interimCondition(s) || needsFlush

	if needsFlush {
		if err := r.updateStatus(ctx, s); err != nil {
			return err
		}
		r.backoff.set(s.key, s.backoff)
		needsFlush = false
	}
	done, rmErr := r.removeFinalizers(ctx, s.key, release)
	for uid := range done {
		withFinalizer.Delete(uid)
	}
	needsFlush = countReleased(&job.Status, withFinalizer) || needsFlush
	if rmErr != nil {
		if needsFlush {
			if err := r.updateStatus(ctx, s); err != nil {
				return err
			}
		}
		return rmErr
	}
	finishing := !full && r.enactFinish(s)
	if !needsFlush && !finishing {
		return nil
	}
	if err := r.updateStatus(ctx, s); err != nil {
		return err
	}
	if finishing {
		r.recordFinish(s)
	}
	return nil
}

// countReleased moves the uncounted UIDs whose pods no longer carry the finalizer into
// the counters, reporting whether anything moved.
func countReleased(status *batchv1.JobStatus, withFinalizer sets.Set[types.UID]) bool {
	u := status.UncountedTerminatedPods
	keep := func(uids []types.UID) []types.UID {
		var out []types.UID
		for _, uid := range uids {
			if withFinalizer.Has(uid) {
				out = append(out, uid)
			}
		}
		return out
	}
	succeeded, failed := keep(u.Succeeded), keep(u.Failed)
	moved := len(u.Succeeded) - len(succeeded) + len(u.Failed) - len(failed)
	status.Succeeded += int32(len(u.Succeeded) - len(succeeded))
	status.Failed += int32(len(u.Failed) - len(failed))
	u.Succeeded, u.Failed = succeeded, failed
	return moved > 0
}

// setIndexes writes an Indexed Job's completed and failed indexes, reporting a change.
func setIndexes(s *syncState, newIx sets.Set[int]) bool {
	st := &s.job.Status
	completed := formatIndexes(s.prevSucceededIx.Union(newIx))
	var failed *string
	if s.failedIx != nil {
		f := formatIndexes(s.failedIx)
		failed = &f
	}
	changed := completed != st.CompletedIndexes || (failed == nil) != (st.FailedIndexes == nil) ||
		(failed != nil && *failed != *st.FailedIndexes)
	st.CompletedIndexes = completed
	st.Succeeded = int32(s.prevSucceededIx.Union(newIx).Len())
	st.FailedIndexes = failed
	return changed
}

// interimCondition records SuccessCriteriaMet or FailureTarget before any pod is
// released, so that the verdict survives a restart, and turns s.finish into the terminal
// condition that follows it. It reports whether the status changed.
func interimCondition(s *syncState) bool {
	if s.finish == nil {
		return false
	}
	terminal := map[batchv1.JobConditionType]batchv1.JobConditionType{
		batchv1.JobFailureTarget: batchv1.JobFailed, batchv1.JobSuccessCriteriaMet: batchv1.JobComplete}[s.finish.Type]
	if terminal == "" {
		return false
	}
	changed := false
	if trueCondition(s.job, s.finish.Type) == nil {
		s.job.Status.Conditions = append(s.job.Status.Conditions, *s.finish)
		changed = true
	}
	s.finish = condition(terminal, s.finish.Reason, s.finish.Message, s.now)
	return changed
}

// enactFinish sets the terminal condition once every pod is counted and none is still
// terminating, reporting whether it did.
func (r *Reconciler) enactFinish(s *syncState) bool {
	if s.finish == nil {
		return false
	}
	if u := s.job.Status.UncountedTerminatedPods; len(u.Succeeded)+len(u.Failed) > 0 || s.terminating > 0 {
		return false
	}
	setCondition(s.job, *s.finish, s.now)
	if s.finish.Type == batchv1.JobComplete {
		s.job.Status.CompletionTime = &metav1.Time{Time: s.now}
	}
	return true
}

func (r *Reconciler) recordFinish(s *syncState) {
	job := s.job
	if s.finish.Type != batchv1.JobComplete {
		r.Recorder.Event(job, corev1.EventTypeWarning, s.finish.Reason, s.finish.Message)
		return
	}
	if s.spec.completions != nil && job.Status.Succeeded > *s.spec.completions {
		r.Recorder.Event(job, corev1.EventTypeWarning, "TooManySucceededPods", "Too many succeeded pods running after completion count reached")
	}
	r.Recorder.Event(job, corev1.EventTypeNormal, "Completed", "Job completed")
}

// updateStatus writes s.job's status with the resourceVersion it was read at; a conflict
// is errStale.
func (r *Reconciler) updateStatus(ctx context.Context, s *syncState) error {
	switch err := r.Status().Update(ctx, s.job); {
	case apierrors.IsConflict(err):
		log.FromContext(ctx).V(1).Info("Status update conflicted; waiting for the newer Job")
		return errStale
	case err != nil:
		return fmt.Errorf("updating status: %w", err)
	}
	return nil
}
