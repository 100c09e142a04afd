package cronjob_test

import (
	"context"
	"testing"
	"time"

	. "github.com/onsi/gomega"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	batchv1alpha1 "github.com/kybern/kybern/api/batch/v1alpha1"
	"github.com/kybern/kybern/test/testenv"
)

var (
	suite *testenv.Suite
	env   *testenv.Env
	k8s   client.Client
	ctx   context.Context
)

func TestCronJob(t *testing.T) { testenv.RunSuite(t, "CronJob controller suite") }

var _ = testenv.DeclareSuite(testenv.SuiteSpec{
	Controllers: []string{"cronjob", "job", "garbagecollector"},
}, func(s *testenv.Suite) {
	suite, env, k8s, ctx = s, s.Env, s.Env.Client, s.Ctx
})

func newNamespace() string {
	ns, err := env.NewNamespace(ctx, "cronjob-test")
	ExpectWithOffset(1, err).NotTo(HaveOccurred())
	return ns
}

// newCronJob is a CronJob "report" in ns whose Jobs run one busybox pod.
func newCronJob(ns, schedule string, policy batchv1.ConcurrencyPolicy) *batchv1alpha1.CronJob {
	cj := &batchv1alpha1.CronJob{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "report"}}
	cj.Spec.Schedule = schedule
	cj.Spec.ConcurrencyPolicy = policy
	cj.Spec.JobTemplate.Labels = map[string]string{"app": "report"}
	cj.Spec.JobTemplate.Annotations = map[string]string{"owner": "ops"}
	cj.Spec.JobTemplate.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyNever
	cj.Spec.JobTemplate.Spec.Template.Spec.Containers = []corev1.Container{{Name: "report", Image: "busybox", Command: []string{"true"}}}
	return cj
}

// jobsOf lists the Jobs cj controls that are not being deleted, by name.
func jobsOf(cj *batchv1alpha1.CronJob) []batchv1alpha1.Job {
	var list batchv1alpha1.JobList
	ExpectWithOffset(1, k8s.List(ctx, &list, client.InNamespace(cj.Namespace))).To(Succeed())
	var out []batchv1alpha1.Job
	for _, j := range list.Items {
		if metav1.IsControlledBy(&j, cj) && j.DeletionTimestamp == nil {
			out = append(out, j)
		}
	}
	return out
}

func jobNames(cj *batchv1alpha1.CronJob) []string {
	var names []string
	for _, j := range jobsOf(cj) {
		names = append(names, j.Name)
	}
	return names
}

func statusOf(cj *batchv1alpha1.CronJob) batchv1.CronJobStatus {
	got := &batchv1alpha1.CronJob{}
	ExpectWithOffset(1, k8s.Get(ctx, client.ObjectKeyFromObject(cj), got)).To(Succeed())
	return got.Status
}

func activeNames(cj *batchv1alpha1.CronJob) []string {
	var names []string
	for _, ref := range statusOf(cj).Active {
		names = append(names, ref.Name)
	}
	return names
}

// finish plays the Job controller: the Job started at started and ended with cond
// (Complete or Failed) a minute later.
func finish(ns, name string, cond batchv1.JobConditionType, started time.Time) {
	j := &batchv1alpha1.Job{}
	ExpectWithOffset(1, k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, j)).To(Succeed())
	orig := j.DeepCopy()
	j.Status.StartTime = &metav1.Time{Time: started}
	if cond == batchv1.JobComplete {
		j.Status.CompletionTime = &metav1.Time{Time: started.Add(time.Minute)}
	}
	j.Status.Conditions = []batchv1.JobCondition{{Type: cond, Status: corev1.ConditionTrue, LastTransitionTime: metav1.NewTime(started.Add(time.Minute))}}
	ExpectWithOffset(1, k8s.Status().Patch(ctx, j, client.MergeFrom(orig))).To(Succeed())
}
