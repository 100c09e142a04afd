package cronjob

import (
	"maps"
	"slices"
	"strings"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	batchv1alpha1 "github.com/kybern/kybern/api/batch/v1alpha1"
)

// finishedCondition is the type of a Job's Complete or Failed condition whose status is
// True, or "" while the Job still runs.
func finishedCondition(j *batchv1alpha1.Job) batchv1.JobConditionType {
	for _, c := range j.Status.Conditions {
		if (c.Type == batchv1.JobComplete || c.Type == batchv1.JobFailed) && c.Status == corev1.ConditionTrue {
			return c.Type
		}
	}
	return ""
}

// isJobFinished reports whether a Job has completed or failed for good.
func isJobFinished(j *batchv1alpha1.Job) bool { return finishedCondition(j) != "" }

// newJob builds the Job for one schedule time from spec.jobTemplate: its labels and
// annotations, the scheduled-timestamp annotation (RFC 3339 in spec.timeZone, UTC when
// unset, as upstream's), and the CronJob as controlling owner.
func newJob(cj *batchv1alpha1.CronJob, scheduled time.Time, loc *time.Location) *batchv1alpha1.Job {
	annotations := maps.Clone(cj.Spec.JobTemplate.Annotations)
	if annotations == nil {
		annotations = map[string]string{}
	}
	annotations[batchv1.CronJobScheduledTimestampAnnotation] = scheduled.In(loc).Format(time.RFC3339)
	job := &batchv1alpha1.Job{
		ObjectMeta: metav1.ObjectMeta{
			Name:            jobName(cj, scheduled),
			Namespace:       cj.Namespace,
			Labels:          maps.Clone(cj.Spec.JobTemplate.Labels),
			Annotations:     annotations,
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(cj, batchv1alpha1.GroupVersion.WithKind("CronJob"))},
		},
	}
	cj.Spec.JobTemplate.Spec.DeepCopyInto(&job.Spec)
	return job
}

// jobRef is the status.active entry for a Job.
func jobRef(j *batchv1alpha1.Job) corev1.ObjectReference {
	return corev1.ObjectReference{
		APIVersion: batchv1alpha1.GroupVersion.String(), Kind: "Job",
		Namespace: j.Namespace, Name: j.Name, UID: j.UID, ResourceVersion: j.ResourceVersion,
	}
}

// inActive reports whether status.active lists the Job with this UID.
func inActive(cj *batchv1alpha1.CronJob, uid types.UID) bool {
	return slices.ContainsFunc(cj.Status.Active, func(r corev1.ObjectReference) bool { return r.UID == uid })
}

// inActiveByName reports whether status.active lists a Job of this name.
func inActiveByName(cj *batchv1alpha1.CronJob, name string) bool {
	return slices.ContainsFunc(cj.Status.Active, func(r corev1.ObjectReference) bool { return r.Name == name })
}

// removeActive drops the Job with this UID from status.active.
func removeActive(cj *batchv1alpha1.CronJob, uid types.UID) {
	cj.Status.Active = slices.DeleteFunc(cj.Status.Active, func(r corev1.ObjectReference) bool { return r.UID == uid })
}

// jobsBeyondHistory picks the finished Jobs to delete so that at most
// spec.successfulJobsHistoryLimit Complete and spec.failedJobsHistoryLimit Failed Jobs
// remain, oldest first; an unset limit keeps every Job of its kind. Example: limit 2 and
// Complete Jobs started at 10:00, 10:01, 10:02 and one never started → the 10:00 and 10:01
// ones go, since a Job without a start time counts as the newest.
func jobsBeyondHistory(cj *batchv1alpha1.CronJob, jobs []*batchv1alpha1.Job) []*batchv1alpha1.Job {
	var succeeded, failed []*batchv1alpha1.Job
	for _, j := range jobs {
		switch finishedCondition(j) {
		case batchv1.JobComplete:
			succeeded = append(succeeded, j)
		case batchv1.JobFailed:
			failed = append(failed, j)
		}
	}
	var out []*batchv1alpha1.Job
	out = append(out, oldestBeyond(succeeded, cj.Spec.SuccessfulJobsHistoryLimit)...)
	return append(out, oldestBeyond(failed, cj.Spec.FailedJobsHistoryLimit)...)
}

// oldestBeyond returns the len(jobs)-limit oldest jobs, or none when limit is nil.
func oldestBeyond(jobs []*batchv1alpha1.Job, limit *int32) []*batchv1alpha1.Job {
	if limit == nil || len(jobs) <= int(*limit) {
		return nil
	}
	sorted := slices.Clone(jobs)
	slices.SortFunc(sorted, compareStartTime)
	return sorted[:len(sorted)-int(*limit)]
}

// compareStartTime orders Jobs by status.startTime, Jobs without one last, ties by name.
func compareStartTime(a, b *batchv1alpha1.Job) int {
	sa, sb := a.Status.StartTime, b.Status.StartTime
	switch {
	case sa == nil && sb != nil:
		return 1
	case sa != nil && sb == nil:
		return -1
	case sa != nil && !sa.Equal(sb):
		return sa.Compare(sb.Time)
	}
	return strings.Compare(a.Name, b.Name)
}
