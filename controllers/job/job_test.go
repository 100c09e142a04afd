package job_test

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	batchv1alpha1 "github.com/kybern/kybern/api/batch/v1alpha1"
	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
	"github.com/kybern/kybern/controllers/internal/specvalidation"
	"github.com/kybern/kybern/test/testenv"
)

var _ = Describe("Job", func() {
	It("acts on no Job upstream's validation refuses, one stored past admission: it says why, and creates no pods", func() {
		ns := newNamespace()
		j := newJob(ns, "misnamed", func(s *batchv1.JobSpec) { s.Template.Spec.Containers[0].Name = "Main_C" })
		Eventually(testenv.EventsOf(ctx, k8s, j, "Job")).Should(ContainElement(And(HaveField("Reason", specvalidation.ReasonInvalidSpec),
			HaveField("Message", ContainSubstring("spec.template.spec.containers[0].name")))))
		Eventually(func(g Gomega) []batchv1.JobCondition { return getJob(g, j).Status.Conditions }).Should(ContainElement(And(
			HaveField("Type", BeEquivalentTo(specvalidation.ConditionReplicaFailure)), HaveField("Reason", specvalidation.ReasonInvalidSpec))))
		Consistently(func(g Gomega) []corev1alpha1.Pod { return podsOf(g, j) }, "1s").Should(BeEmpty())
	})

	It("runs parallelism pods at a time until completions succeed, then completes", func() {
		ns := newNamespace()
		j := newJob(ns, "three", func(s *batchv1.JobSpec) { s.Completions, s.Parallelism = ptr.To[int32](3), ptr.To[int32](2) })

		pods := waitActive(j, 2)
		for _, p := range pods {
			Expect(p.Finalizers).To(ContainElement(batchv1.JobTrackingFinalizer))
			Expect(p.Labels).To(HaveKeyWithValue(batchv1.ControllerUidLabel, string(j.UID)))
			Expect(p.Labels).To(HaveKeyWithValue(batchv1.JobNameLabel, "three"))
		}
		Eventually(func(g Gomega) {
			got := getJob(g, j)
			g.Expect(got.Spec.Selector.MatchLabels).To(Equal(map[string]string{batchv1.ControllerUidLabel: string(j.UID)}))
			g.Expect(got.Status.StartTime).NotTo(BeNil())
			g.Expect(got.Status.Active).To(Equal(int32(2)))
		}).Should(Succeed())

		finish(&pods[0], 0)
		finish(&pods[1], 0)
		// Only one completion is left: one new pod, not two.
		last := waitActive(j, 1)
		Consistently(func(g Gomega) { g.Expect(activePodsOf(g, j)).To(HaveLen(1)) }, "1s").Should(Succeed())
		finish(&last[0], 0)

		done := expectCondition(j, batchv1.JobComplete, batchv1.JobReasonCompletionsReached)
		Expect(conditionOf(done, batchv1.JobSuccessCriteriaMet)).NotTo(BeNil())
		Expect(done.Status.Succeeded).To(Equal(int32(3)))
		Expect(done.Status.Failed).To(BeZero())
		Expect(done.Status.Active).To(BeZero())
		Expect(done.Status.CompletionTime).NotTo(BeNil())
		Expect(done.Status.UncountedTerminatedPods.Succeeded).To(BeEmpty())
		Eventually(func(g Gomega) {
			for _, p := range podsOf(g, j) {
				g.Expect(p.Finalizers).NotTo(ContainElement(batchv1.JobTrackingFinalizer))
			}
		}).Should(Succeed())
	})

	It("counts a finished pod once even when it is deleted at once", func() {
		ns := newNamespace()
		j := newJob(ns, "quick", func(s *batchv1.JobSpec) { s.Completions, s.Parallelism = ptr.To[int32](2), ptr.To[int32](2) })
		for _, p := range waitActive(j, 2) {
			finish(&p, 0)
			Expect(k8s.Delete(ctx, &p)).To(Succeed())
		}
		done := expectCondition(j, batchv1.JobComplete, batchv1.JobReasonCompletionsReached)
		Expect(done.Status.Succeeded).To(Equal(int32(2)))
		Eventually(func(g Gomega) { g.Expect(podsOf(g, j)).To(BeEmpty()) }).Should(Succeed())
	})

	It("runs an Indexed Job's pods with their index, hostname and JOB_COMPLETION_INDEX", func() {
		ns := newNamespace()
		j := newJob(ns, "idx", func(s *batchv1.JobSpec) {
			s.Completions, s.Parallelism = ptr.To[int32](3), ptr.To[int32](3)
			s.CompletionMode = ptr.To(batchv1.IndexedCompletion)
		})
		pods := waitActive(j, 3)
		byIndex := map[string]corev1alpha1.Pod{}
		for _, p := range pods {
			ix := p.Annotations[batchv1.JobCompletionIndexAnnotation]
			byIndex[ix] = p
			Expect(p.Labels).To(HaveKeyWithValue(batchv1.JobCompletionIndexAnnotation, ix))
			Expect(p.Spec.Hostname).To(Equal("idx-" + ix))
			Expect(p.Name).To(HavePrefix("idx-" + ix + "-"))
			Expect(p.Spec.Containers[0].Env).To(ContainElement(corev1.EnvVar{Name: "JOB_COMPLETION_INDEX", ValueFrom: &corev1.EnvVarSource{
				FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.annotations['batch.kubernetes.io/job-completion-index']"}}}))
		}
		Expect(byIndex).To(HaveLen(3))

		finish(ptr.To(byIndex["0"]), 0)
		finish(ptr.To(byIndex["2"]), 0)
		Eventually(func(g Gomega) { g.Expect(getJob(g, j).Status.CompletedIndexes).To(Equal("0,2")) }).Should(Succeed())

		// Index 1 fails; its replacement gets the same index.
		finish(ptr.To(byIndex["1"]), 1)
		var again []corev1alpha1.Pod
		Eventually(func(g Gomega) {
			again = activePodsOf(g, j)
			g.Expect(again).To(HaveLen(1))
		}, "40s").Should(Succeed())
		Expect(again[0].Annotations).To(HaveKeyWithValue(batchv1.JobCompletionIndexAnnotation, "1"))
		finish(&again[0], 0)
		done := expectCondition(j, batchv1.JobComplete, batchv1.JobReasonCompletionsReached)
		Expect(done.Status.CompletedIndexes).To(Equal("0-2"))
		Expect(done.Status.Succeeded).To(Equal(int32(3)))
		Expect(done.Status.Failed).To(Equal(int32(1)))
	})

	It("fails with BackoffLimitExceeded after backoffLimit+1 failures, the retry waiting out the backoff", func() {
		ns := newNamespace()
		j := newJob(ns, "crash", func(s *batchv1.JobSpec) { s.BackoffLimit = ptr.To[int32](1) })
		first := waitActive(j, 1)
		finish(&first[0], 1)
		failedAt := time.Now()
		second := waitActive(j, 1)
		Expect(time.Since(failedAt)).To(BeNumerically(">=", 9*time.Second), "the replacement waited for the 10 s backoff")
		Eventually(func(g Gomega) { g.Expect(getJob(g, j).Status.Failed).To(Equal(int32(1))) }).Should(Succeed())
		finish(&second[0], 1)

		done := expectCondition(j, batchv1.JobFailed, batchv1.JobReasonBackoffLimitExceeded)
		Expect(conditionOf(done, batchv1.JobFailureTarget)).NotTo(BeNil())
		Expect(done.Status.Failed).To(Equal(int32(2)))
		Expect(conditionOf(done, batchv1.JobFailed).Message).To(Equal("Job has reached the specified backoff limit"))
		Consistently(func(g Gomega) { g.Expect(activePodsOf(g, j)).To(BeEmpty()) }, "1s").Should(Succeed())
	})

	It("fails the Job on a FailJob rule and stops its other pods; an Ignore rule does not count", func() {
		ns := newNamespace()
		j := newJob(ns, "policy", func(s *batchv1.JobSpec) {
			s.Completions, s.Parallelism, s.BackoffLimit = ptr.To[int32](3), ptr.To[int32](3), ptr.To[int32](0)
			s.PodFailurePolicy = &batchv1.PodFailurePolicy{Rules: []batchv1.PodFailurePolicyRule{
				{Action: batchv1.PodFailurePolicyActionIgnore, OnExitCodes: &batchv1.PodFailurePolicyOnExitCodesRequirement{Operator: batchv1.PodFailurePolicyOnExitCodesOpIn, Values: []int32{3}}},
				{Action: batchv1.PodFailurePolicyActionFailJob, OnExitCodes: &batchv1.PodFailurePolicyOnExitCodesRequirement{Operator: batchv1.PodFailurePolicyOnExitCodesOpIn, Values: []int32{42}}},
			}}
		})
		pods := waitActive(j, 3)
		finish(&pods[0], 3)
		// Ignored: replaced at once (no backoff), and backoffLimit 0 is not exceeded.
		Eventually(func(g Gomega) { g.Expect(activePodsOf(g, j)).To(HaveLen(3)) }).Should(Succeed())
		Consistently(func(g Gomega) { g.Expect(getJob(g, j).Status.Failed).To(BeZero()) }, "1s").Should(Succeed())

		finish(&pods[1], 42)
		done := expectCondition(j, batchv1.JobFailed, batchv1.JobReasonPodFailurePolicy)
		Expect(conditionOf(done, batchv1.JobFailed).Message).To(Equal("Container main for pod " + ns + "/" + pods[1].Name + " failed with exit code 42 matching FailJob rule at index 1"))
		Expect(done.Status.Active).To(BeZero())
		Eventually(func(g Gomega) { g.Expect(activePodsOf(g, j)).To(BeEmpty()) }).Should(Succeed())
	})

	It("suspends and resumes", func() {
		ns := newNamespace()
		j := newJob(ns, "held", func(s *batchv1.JobSpec) {
			s.Suspend, s.Parallelism, s.Completions = ptr.To(true), ptr.To[int32](2), ptr.To[int32](2)
		})
		got := expectCondition(j, batchv1.JobSuspended, "JobSuspended")
		Expect(got.Status.StartTime).To(BeNil())
		Consistently(func(g Gomega) { g.Expect(podsOf(g, j)).To(BeEmpty()) }, "1s").Should(Succeed())

		setSuspend(j, false)
		waitActive(j, 2)
		Eventually(func(g Gomega) {
			got := getJob(g, j)
			c := conditionOf(got, batchv1.JobSuspended)
			g.Expect(c.Status).To(Equal(corev1.ConditionFalse))
			g.Expect(c.Reason).To(Equal("JobResumed"))
			g.Expect(got.Status.StartTime).NotTo(BeNil())
		}).Should(Succeed())

		setSuspend(j, true)
		expectCondition(j, batchv1.JobSuspended, "JobSuspended")
		Eventually(func(g Gomega) { g.Expect(podsOf(g, j)).To(BeEmpty()) }).Should(Succeed())
		// Pods the Job stops itself are not failures.
		Consistently(func(g Gomega) { g.Expect(getJob(g, j).Status.Failed).To(BeZero()) }, "1s").Should(Succeed())
	})

	It("fails with DeadlineExceeded after activeDeadlineSeconds and stops its pods", func() {
		ns := newNamespace()
		j := newJob(ns, "late", func(s *batchv1.JobSpec) { s.ActiveDeadlineSeconds = ptr.To[int64](2) })
		waitActive(j, 1)
		done := expectCondition(j, batchv1.JobFailed, batchv1.JobReasonDeadlineExceeded)
		Expect(done.Status.Active).To(BeZero())
		Expect(done.Status.Failed).To(Equal(int32(1)))
		Eventually(func(g Gomega) { g.Expect(podsOf(g, j)).To(BeEmpty()) }).Should(Succeed())
	})

	It("completes a work queue once one pod succeeded and the others finished", func() {
		ns := newNamespace()
		j := newJob(ns, "queue", func(s *batchv1.JobSpec) { s.Parallelism = ptr.To[int32](2) })
		pods := waitActive(j, 2)
		finish(&pods[0], 0)
		Consistently(func(g Gomega) { g.Expect(activePodsOf(g, j)).To(HaveLen(1)) }, "1s").Should(Succeed())
		Expect(conditionOf(getJob(Default, j), batchv1.JobComplete)).To(BeNil())
		finish(&pods[1], 0)
		done := expectCondition(j, batchv1.JobComplete, batchv1.JobReasonCompletionsReached)
		Expect(done.Status.Succeeded).To(Equal(int32(2)))
	})

	It("marks an index failed after backoffLimitPerIndex and fails the Job with FailedIndexes", func() {
		ns := newNamespace()
		j := newJob(ns, "perindex", func(s *batchv1.JobSpec) {
			s.Completions, s.Parallelism = ptr.To[int32](2), ptr.To[int32](2)
			s.CompletionMode = ptr.To(batchv1.IndexedCompletion)
			s.BackoffLimitPerIndex = ptr.To[int32](0)
		})
		pods := waitActive(j, 2)
		for _, p := range pods {
			Expect(p.Annotations).To(HaveKeyWithValue(batchv1.JobIndexFailureCountAnnotation, "0"))
			finish(&p, map[string]int32{"0": 1, "1": 0}[p.Annotations[batchv1.JobCompletionIndexAnnotation]])
		}
		done := expectCondition(j, batchv1.JobFailed, batchv1.JobReasonFailedIndexes)
		Expect(*done.Status.FailedIndexes).To(Equal("0"))
		Expect(done.Status.CompletedIndexes).To(Equal("1"))
		Expect(done.Status.Failed).To(Equal(int32(1)))
	})

	It("deletes a finished Job after ttlSecondsAfterFinished", func() {
		ns := newNamespace()
		j := newJob(ns, "short-lived", func(s *batchv1.JobSpec) { s.TTLSecondsAfterFinished = ptr.To[int32](1) })
		// The test's finalizer keeps the deleted Job readable, so that its condition is read
		// whenever the controller deletes it.
		const hold = "test.kybern.io/hold"
		orig := j.DeepCopy()
		j.Finalizers = append(j.Finalizers, hold)
		Expect(k8s.Patch(ctx, j, client.MergeFrom(orig))).To(Succeed())
		finish(ptr.To(waitActive(j, 1)[0]), 0)
		expectCondition(j, batchv1.JobComplete, batchv1.JobReasonCompletionsReached)
		Eventually(func(g Gomega) {
			g.Expect(getJob(g, j).DeletionTimestamp).NotTo(BeNil())
		}).Should(Succeed())
		Eventually(func(g Gomega) {
			got := getJob(g, j)
			held := got.DeepCopy()
			controllerutil.RemoveFinalizer(got, hold)
			g.Expect(k8s.Patch(ctx, got, client.MergeFromWithOptions(held, client.MergeFromWithOptimisticLock{}))).To(Succeed())
		}).Should(Succeed())
		Eventually(func() bool {
			return apierrors.IsNotFound(k8s.Get(ctx, client.ObjectKeyFromObject(j), &batchv1alpha1.Job{}))
		}).Should(BeTrue())
	})

	It("releases its pods' finalizers when the Job is deleted", func() {
		ns := newNamespace()
		j := newJob(ns, "gone", func(s *batchv1.JobSpec) { s.Parallelism, s.Completions = ptr.To[int32](2), ptr.To[int32](2) })
		waitActive(j, 2)
		Expect(k8s.Delete(ctx, j)).To(Succeed())
		Eventually(func(g Gomega) {
			var list corev1alpha1.PodList
			g.Expect(k8s.List(ctx, &list, client.InNamespace(ns))).To(Succeed())
			g.Expect(list.Items).To(BeEmpty())
		}).Should(Succeed())
	})
})

// setSuspend sets spec.suspend.
func setSuspend(j *batchv1alpha1.Job, suspend bool) {
	EventuallyWithOffset(1, func(g Gomega) {
		got := getJob(g, j)
		got.Spec.Suspend = ptr.To(suspend)
		g.Expect(k8s.Update(ctx, got)).To(Succeed())
	}).Should(Succeed())
}
