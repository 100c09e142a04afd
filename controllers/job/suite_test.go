package job_test

import (
	"context"
	"testing"

	. "github.com/onsi/gomega"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	batchv1alpha1 "github.com/kybern/kybern/api/batch/v1alpha1"
	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
	"github.com/kybern/kybern/test/testenv"
)

var (
	env *testenv.Env
	k8s client.Client
	ctx context.Context
)

func TestJob(t *testing.T) { testenv.RunSuite(t, "Job controller suite") }

var _ = testenv.DeclareSuite(testenv.SuiteSpec{
	Controllers: []string{"job", "garbagecollector"},
}, func(s *testenv.Suite) {
	env, k8s, ctx = s.Env, s.Env.Client, s.Ctx
})

func newNamespace() string {
	ns, err := env.NewNamespace(ctx, "job-test")
	ExpectWithOffset(1, err).NotTo(HaveOccurred())
	return ns
}

// newJob is a Job of one busybox container that never restarts; mutate adjusts its spec.
func newJob(ns, name string, mutate func(*batchv1.JobSpec)) *batchv1alpha1.Job {
	j := &batchv1alpha1.Job{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
	j.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyNever
	j.Spec.Template.Spec.Containers = []corev1.Container{{Name: "main", Image: "busybox"}}
	if mutate != nil {
		mutate(&j.Spec)
	}
	ExpectWithOffset(1, k8s.Create(ctx, j)).To(Succeed())
	return j
}

// podsOf are the Job's pods, finished or not, as the apiserver has them.
func podsOf(g Gomega, j *batchv1alpha1.Job) []corev1alpha1.Pod {
	var list corev1alpha1.PodList
	g.Expect(k8s.List(ctx, &list, client.InNamespace(j.Namespace))).To(Succeed())
	var out []corev1alpha1.Pod
	for _, p := range list.Items {
		if metav1.IsControlledBy(&p, j) {
			out = append(out, p)
		}
	}
	return out
}

// activePodsOf are the Job's pods that neither finished nor are being deleted.
func activePodsOf(g Gomega, j *batchv1alpha1.Job) []corev1alpha1.Pod {
	var out []corev1alpha1.Pod
	for _, p := range podsOf(g, j) {
		if p.DeletionTimestamp == nil && p.Status.Phase != corev1.PodSucceeded && p.Status.Phase != corev1.PodFailed {
			out = append(out, p)
		}
	}
	return out
}

// waitActive waits until the Job has n active pods and returns them.
func waitActive(j *batchv1alpha1.Job, n int) []corev1alpha1.Pod {
	var pods []corev1alpha1.Pod
	EventuallyWithOffset(1, func(g Gomega) {
		pods = activePodsOf(g, j)
		g.Expect(pods).To(HaveLen(n))
	}).Should(Succeed())
	return pods
}

// finish plays the node agent: the pod's container exited with code, and the pod's
// phase follows from it.
func finish(p *corev1alpha1.Pod, code int32) {
	orig := p.DeepCopy()
	p.Status.Phase = corev1.PodSucceeded
	if code != 0 {
		p.Status.Phase = corev1.PodFailed
	}
	at := metav1.Now()
	p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "main", Image: "busybox",
		State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: code, StartedAt: at, FinishedAt: at}}}}
	ExpectWithOffset(1, k8s.Status().Patch(ctx, p, client.MergeFrom(orig))).To(Succeed())
}

// getJob reads the Job afresh.
func getJob(g Gomega, j *batchv1alpha1.Job) *batchv1alpha1.Job {
	got := &batchv1alpha1.Job{}
	g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(j), got)).To(Succeed())
	return got
}

// conditionOf is the Job's condition of type t, or nil.
func conditionOf(j *batchv1alpha1.Job, t batchv1.JobConditionType) *batchv1.JobCondition {
	for i := range j.Status.Conditions {
		if j.Status.Conditions[i].Type == t {
			return &j.Status.Conditions[i]
		}
	}
	return nil
}

// expectCondition waits for the Job's condition t to be True with reason.
func expectCondition(j *batchv1alpha1.Job, t batchv1.JobConditionType, reason string) *batchv1alpha1.Job {
	var got *batchv1alpha1.Job
	EventuallyWithOffset(1, func(g Gomega) {
		got = getJob(g, j)
		c := conditionOf(got, t)
		g.Expect(c).NotTo(BeNil(), "condition %s", t)
		g.Expect(c.Status).To(Equal(corev1.ConditionTrue))
		g.Expect(c.Reason).To(Equal(reason))
	}).Should(Succeed())
	return got
}
