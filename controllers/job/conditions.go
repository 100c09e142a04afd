package job

import (
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	batchv1alpha1 "github.com/kybern/kybern/api/batch/v1alpha1"
)

// condition is a True condition of type t, as of now.
func condition(t batchv1.JobConditionType, reason, message string, now time.Time) *batchv1.JobCondition {
	return &batchv1.JobCondition{Type: t, Status: corev1.ConditionTrue, Reason: reason, Message: message,
		LastProbeTime: metav1.NewTime(now), LastTransitionTime: metav1.NewTime(now)}
}

// findCondition is the Job's condition of type t, whatever its status, or nil.
func findCondition(job *batchv1alpha1.Job, t batchv1.JobConditionType) *batchv1.JobCondition {
	for i := range job.Status.Conditions {
		if job.Status.Conditions[i].Type == t {
			return &job.Status.Conditions[i]
		}
	}
	return nil
}

// trueCondition is the Job's condition of type t if it is True, or nil.
func trueCondition(job *batchv1alpha1.Job, t batchv1.JobConditionType) *batchv1.JobCondition {
	if c := findCondition(job, t); c != nil && c.Status == corev1.ConditionTrue {
		return c
	}
	return nil
}

// finished reports whether the Job is Complete or Failed: nothing more happens to it
// but its expiry after ttlSecondsAfterFinished.
func finished(job *batchv1alpha1.Job) bool {
	return trueCondition(job, batchv1.JobComplete) != nil || trueCondition(job, batchv1.JobFailed) != nil
}

// finishedTime is when the Job became Complete or Failed.
func finishedTime(job *batchv1alpha1.Job) (time.Time, bool) {
	for _, t := range []batchv1.JobConditionType{batchv1.JobComplete, batchv1.JobFailed} {
		if c := trueCondition(job, t); c != nil {
			return c.LastTransitionTime.Time, true
		}
	}
	return time.Time{}, false
}

// setCondition sets c on the Job at now: a new condition is appended; an existing one
// takes c's reason and message, and its transition time moves only if its status does.
func setCondition(job *batchv1alpha1.Job, c batchv1.JobCondition, now time.Time) {
	c.LastProbeTime = metav1.NewTime(now)
	c.LastTransitionTime = metav1.NewTime(now)
	if old := findCondition(job, c.Type); old != nil {
		if old.Status == c.Status {
			c.LastTransitionTime = old.LastTransitionTime
		}
		*old = c
		return
	}
	job.Status.Conditions = append(job.Status.Conditions, c)
}
