package cronjob

import (
	"slices"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	batchv1alpha1 "github.com/kybern/kybern/api/batch/v1alpha1"
)

// job is a Job named name that started at started ("" for not yet) and carries cond
// ("" for none) with status True.
func job(name, started string, cond batchv1.JobConditionType) *batchv1alpha1.Job {
	j := &batchv1alpha1.Job{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if started != "" {
		j.Status.StartTime = ptr.To(metav1.NewTime(at(started)))
	}
	if cond != "" {
		j.Status.Conditions = []batchv1.JobCondition{{Type: cond, Status: corev1.ConditionTrue}}
	}
	return j
}

func TestIsJobFinished(t *testing.T) {
	cases := []struct {
		name       string
		conditions []batchv1.JobCondition
		want       batchv1.JobConditionType
	}{
		{"no conditions: running", nil, ""},
		{"Complete=True", []batchv1.JobCondition{{Type: batchv1.JobComplete, Status: corev1.ConditionTrue}}, batchv1.JobComplete},
		{"Failed=True", []batchv1.JobCondition{{Type: batchv1.JobFailed, Status: corev1.ConditionTrue}}, batchv1.JobFailed},
		{"Complete=False: running", []batchv1.JobCondition{{Type: batchv1.JobComplete, Status: corev1.ConditionFalse}}, ""},
		{"Suspended=True only: running", []batchv1.JobCondition{{Type: batchv1.JobSuspended, Status: corev1.ConditionTrue}}, ""},
		{"SuccessCriteriaMet then Complete", []batchv1.JobCondition{
			{Type: batchv1.JobSuccessCriteriaMet, Status: corev1.ConditionTrue},
			{Type: batchv1.JobComplete, Status: corev1.ConditionTrue}}, batchv1.JobComplete},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			j := &batchv1alpha1.Job{}
			j.Status.Conditions = tc.conditions
			if got := finishedCondition(j); got != tc.want {
				t.Fatalf("finishedCondition = %q; want %q", got, tc.want)
			}
			if got := isJobFinished(j); got != (tc.want != "") {
				t.Fatalf("isJobFinished = %v; want %v", got, tc.want != "")
			}
		})
	}
}

func TestJobsBeyondHistory(t *testing.T) {
	jobs := []*batchv1alpha1.Job{
		job("ok-3", "10:03:00", batchv1.JobComplete),
		job("ok-1", "10:01:00", batchv1.JobComplete),
		job("ok-unstarted", "", batchv1.JobComplete),
		job("ok-2", "10:02:00", batchv1.JobComplete),
		job("ok-2b", "10:02:00", batchv1.JobComplete),
		job("bad-1", "10:01:00", batchv1.JobFailed),
		job("bad-2", "10:02:00", batchv1.JobFailed),
		job("running", "10:00:00", ""),
	}
	cases := []struct {
		name                      string
		successLimit, failedLimit *int32
		want                      []string
	}{
		{"no limits keep everything", nil, nil, nil},
		{"success 3: the two oldest Complete go, ties by name", ptr.To[int32](3), nil, []string{"ok-1", "ok-2"}},
		{"success 1: only the unstarted one stays, as the newest", ptr.To[int32](1), nil, []string{"ok-1", "ok-2", "ok-2b", "ok-3"}},
		{"success 5: room for all", ptr.To[int32](5), nil, nil},
		{"failed 1: the older Failed goes", nil, ptr.To[int32](1), []string{"bad-1"}},
		{"both 0: every finished Job goes, never a running one", ptr.To[int32](0), ptr.To[int32](0),
			[]string{"ok-1", "ok-2", "ok-2b", "ok-3", "ok-unstarted", "bad-1", "bad-2"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cj := cronJob("@hourly", at("00:00:00"))
			cj.Spec.SuccessfulJobsHistoryLimit = tc.successLimit
			cj.Spec.FailedJobsHistoryLimit = tc.failedLimit
			var got []string
			for _, j := range jobsBeyondHistory(cj, jobs) {
				got = append(got, j.Name)
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("pruned %v; want %v", got, tc.want)
			}
		})
	}
}

func TestNewJob(t *testing.T) {
	cj := cronJob("0 9 * * *", at("00:00:00"))
	cj.UID = "cj-uid"
	cj.Spec.JobTemplate.Labels = map[string]string{"app": "backup"}
	cj.Spec.JobTemplate.Annotations = map[string]string{"team": "ops"}
	cj.Spec.JobTemplate.Spec.Completions = ptr.To[int32](2)
	cj.Spec.JobTemplate.Spec.Template.Spec.Containers = []corev1.Container{{Name: "c", Image: "busybox"}}
	tokyo, err := time.LoadLocation("Asia/Tokyo")
	if err != nil {
		t.Fatal(err)
	}
	j := newJob(cj, at("00:00:00"), tokyo)

	if j.Name != "backup-29540160" || j.Namespace != "ns" {
		t.Fatalf("name %s/%s; want ns/backup-29540160", j.Namespace, j.Name)
	}
	if got := j.Annotations[batchv1.CronJobScheduledTimestampAnnotation]; got != "2026-03-02T09:00:00+09:00" {
		t.Fatalf("scheduled timestamp %q; want 09:00 in Tokyo", got)
	}
	if j.Annotations["team"] != "ops" || j.Labels["app"] != "backup" {
		t.Fatalf("labels %v, annotations %v; want the template's", j.Labels, j.Annotations)
	}
	if _, leaked := cj.Spec.JobTemplate.Annotations[batchv1.CronJobScheduledTimestampAnnotation]; leaked {
		t.Fatal("the template's annotations were modified")
	}
	ref := metav1.GetControllerOf(j)
	if ref == nil || ref.Kind != "CronJob" || ref.APIVersion != "batch.kybern.io/v1alpha1" || ref.UID != "cj-uid" || !*ref.BlockOwnerDeletion {
		t.Fatalf("controller ref %+v; want the CronJob, blocking owner deletion", ref)
	}
	if *j.Spec.Completions != 2 || j.Spec.Template.Spec.Containers[0].Image != "busybox" {
		t.Fatalf("spec %+v; want the template's", j.Spec)
	}
	j.Spec.Template.Spec.Containers[0].Image = "changed"
	if cj.Spec.JobTemplate.Spec.Template.Spec.Containers[0].Image != "busybox" {
		t.Fatal("the Job's spec shares memory with the template")
	}
}
