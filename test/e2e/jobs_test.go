package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	batchv1alpha1 "github.com/kybern/kybern/api/batch/v1alpha1"
	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
)

// jobOf reads the Job afresh.
func jobOf(j *batchv1alpha1.Job) func() (*batchv1alpha1.Job, error) {
	return func() (*batchv1alpha1.Job, error) {
		got := &batchv1alpha1.Job{}
		err := k8s.Get(ctx, client.ObjectKeyFromObject(j), got)
		return got, err
	}
}

// jobPods are the pods the Job controls.
func jobPods(j *batchv1alpha1.Job) func() ([]corev1alpha1.Pod, error) {
	return func() ([]corev1alpha1.Pod, error) {
		var list corev1alpha1.PodList
		if err := k8s.List(ctx, &list, client.InNamespace(j.Namespace)); err != nil {
			return nil, err
		}
		var out []corev1alpha1.Pod
		for _, p := range list.Items {
			if metav1.IsControlledBy(&p, j) {
				out = append(out, p)
			}
		}
		return out, nil
	}
}

func trueJobCondition(t batchv1.JobConditionType, reason string) OmegaMatcher {
	return HaveField("Status.Conditions", ContainElement(And(HaveField("Type", t),
		HaveField("Status", corev1.ConditionTrue), HaveField("Reason", reason))))
}

var _ = Describe("Jobs on real containers", Ordered, func() {
	var ns string
	BeforeAll(func() { startAgent("e2e-a") })
	BeforeEach(func() {
		var err error
		ns, err = env.NewPodSecurityNamespace(ctx, "e2e-job", "privileged")
		Expect(err).NotTo(HaveOccurred())
	})

	// Upstream's pi example, reworked for busybox as an Indexed Job: each pod writes its
	// index and host name where the test reads them.
	It("runs an Indexed Job of 5 completions, 2 at a time, each pod seeing its index", func() {
		out := GinkgoT().TempDir()
		j := &batchv1alpha1.Job{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "pi"}}
		j.Spec.Completions, j.Spec.Parallelism = ptr.To[int32](5), ptr.To[int32](2)
		j.Spec.CompletionMode = ptr.To(batchv1.IndexedCompletion)
		j.Spec.BackoffLimit = ptr.To[int32](4)
		j.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyNever
		j.Spec.Template.Spec.Containers = []corev1.Container{{Name: "pi", Image: "busybox",
			Command:      []string{"sh", "-c", `echo "$(hostname)" > /out/$JOB_COMPLETION_INDEX; sleep 1`},
			VolumeMounts: []corev1.VolumeMount{{Name: "out", MountPath: "/out"}}}}
		j.Spec.Template.Spec.Volumes = []corev1.Volume{{Name: "out", VolumeSource: corev1.VolumeSource{
			HostPath: &corev1.HostPathVolumeSource{Path: out, Type: ptr.To(corev1.HostPathDirectory)}}}}
		Expect(k8s.Create(ctx, j)).To(Succeed())

		// Never more than parallelism pods at once.
		Consistently(func(g Gomega) {
			pods, err := jobPods(j)()
			g.Expect(err).NotTo(HaveOccurred())
			running := 0
			for _, p := range pods {
				if p.Status.Phase != corev1.PodSucceeded && p.Status.Phase != corev1.PodFailed {
					running++
				}
			}
			g.Expect(running).To(BeNumerically("<=", 2))
		}, "4s", "200ms").Should(Succeed())
		Eventually(jobOf(j), 90*time.Second).Should(And(trueJobCondition(batchv1.JobComplete, batchv1.JobReasonCompletionsReached),
			HaveField("Status.Succeeded", int32(5)), HaveField("Status.CompletedIndexes", "0-4"), HaveField("Status.Failed", int32(0))))
		for ix := range 5 {
			data, err := os.ReadFile(filepath.Join(out, fmt.Sprint(ix)))
			Expect(err).NotTo(HaveOccurred())
			Expect(string(data)).To(Equal(fmt.Sprintf("pi-%d\n", ix)))
		}
	})

	It("fails a Job whose pods exit 1 with BackoffLimitExceeded after backoffLimit+1 pods", func() {
		j := &batchv1alpha1.Job{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "fail"}}
		j.Spec.BackoffLimit = ptr.To[int32](2)
		j.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyNever
		j.Spec.Template.Spec.Containers = []corev1.Container{{Name: "main", Image: "busybox", Command: []string{"sh", "-c", "exit 1"}}}
		Expect(k8s.Create(ctx, j)).To(Succeed())

		// Retries wait 10 s, then 20 s.
		Eventually(jobOf(j), 90*time.Second).Should(And(trueJobCondition(batchv1.JobFailed, batchv1.JobReasonBackoffLimitExceeded),
			HaveField("Status.Failed", int32(3)), HaveField("Status.Active", int32(0))))
		pods, err := jobPods(j)()
		Expect(err).NotTo(HaveOccurred())
		Expect(pods).To(HaveLen(3))
		for _, p := range pods {
			Expect(p.Status.Phase).To(Equal(corev1.PodFailed))
			Expect(p.Status.ContainerStatuses).To(ConsistOf(HaveField("State.Terminated.ExitCode", int32(1))))
			Expect(p.Finalizers).NotTo(ContainElement(batchv1.JobTrackingFinalizer))
		}
		Consistently(jobPods(j), "2s").Should(HaveLen(3))
	})
})
