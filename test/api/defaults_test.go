package api_test

import (
	"path/filepath"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	appsv1alpha1 "github.com/kybern/kybern/api/apps/v1alpha1"
	batchv1alpha1 "github.com/kybern/kybern/api/batch/v1alpha1"
	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
)

// expectPodDefaults checks upstream's constant pod defaults on spec.
func expectPodDefaults(spec corev1.PodSpec) {
	ExpectWithOffset(1, spec.TerminationGracePeriodSeconds).To(HaveValue(BeEquivalentTo(30)))
	ExpectWithOffset(1, spec.DNSPolicy).To(Equal(corev1.DNSClusterFirst))
	ExpectWithOffset(1, spec.SchedulerName).To(Equal(corev1.DefaultSchedulerName))
	ExpectWithOffset(1, spec.EnableServiceLinks).To(HaveValue(BeTrue()))
	ExpectWithOffset(1, spec.SecurityContext).NotTo(BeNil())
	for _, c := range spec.Containers {
		ExpectWithOffset(1, c.TerminationMessagePath).To(Equal(corev1.TerminationMessagePathDefault))
		ExpectWithOffset(1, c.TerminationMessagePolicy).To(Equal(corev1.TerminationMessageReadFile))
	}
}

// applied applies a sample with kubectl, as a user does, and reads it back into obj. A
// Go client sends empty structs for unset strategies, which hides a default applied to a
// missing one; kubectl sends what the manifest says.
func applied[T client.Object](file string, obj T, ns string) T {
	fromSample(file, obj, ns)
	run("apply", "--server-side", "-n", ns, "-f", filepath.Join(samplesDir(), file))
	ExpectWithOffset(1, k8sClient.Get(ctx, client.ObjectKeyFromObject(obj), obj)).To(Succeed())
	return obj
}

var _ = Describe("Defaults", func() {
	var ns string
	BeforeEach(func() { ns = newNamespace() })

	It("are persisted on a Deployment as upstream persists them", func() {
		d := applied("apps_v1alpha1_deployment.yaml", &appsv1alpha1.Deployment{}, ns)
		Expect(d.Spec.RevisionHistoryLimit).To(HaveValue(BeEquivalentTo(10)))
		Expect(d.Spec.ProgressDeadlineSeconds).To(HaveValue(BeEquivalentTo(600)))
		Expect(d.Spec.Strategy.Type).To(Equal(appsv1.RollingUpdateDeploymentStrategyType))
		Expect(d.Spec.Strategy.RollingUpdate.MaxSurge).To(HaveValue(Equal(intstr.FromString("25%"))))
		Expect(d.Spec.Strategy.RollingUpdate.MaxUnavailable).To(HaveValue(Equal(intstr.FromString("25%"))))
		Expect(d.Spec.Template.Spec.RestartPolicy).To(Equal(corev1.RestartPolicyAlways))
		expectPodDefaults(d.Spec.Template.Spec)

		By("defaulting a probe's fields and an unset replica count")
		d.Spec.Replicas = nil
		d.Spec.Template.Spec.Containers[0].LivenessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{
			HTTPGet: &corev1.HTTPGetAction{Port: intstr.FromInt32(80)}}}
		Expect(k8sClient.Update(ctx, d)).To(Succeed())
		Expect(d.Spec.Replicas).To(HaveValue(BeEquivalentTo(1)))
		probe := d.Spec.Template.Spec.Containers[0].LivenessProbe
		Expect(probe.TimeoutSeconds).To(BeEquivalentTo(1))
		Expect(probe.PeriodSeconds).To(BeEquivalentTo(10))
		Expect(probe.SuccessThreshold).To(BeEquivalentTo(1))
		Expect(probe.FailureThreshold).To(BeEquivalentTo(3))
		Expect(probe.HTTPGet.Path).To(Equal("/"))
		Expect(probe.HTTPGet.Scheme).To(Equal(corev1.URISchemeHTTP))
	})

	It("fill in what a partial rolling update leaves out, and leave what the user set", func() {
		d := fromSample("apps_v1alpha1_deployment.yaml", &appsv1alpha1.Deployment{}, ns)
		d.Spec.Strategy = appsv1.DeploymentStrategy{RollingUpdate: &appsv1.RollingUpdateDeployment{MaxSurge: ptr.To(intstr.FromInt32(3))}}
		Expect(k8sClient.Create(ctx, d)).To(Succeed())
		Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(d), d)).To(Succeed())
		Expect(d.Spec.Strategy.Type).To(Equal(appsv1.RollingUpdateDeploymentStrategyType))
		Expect(d.Spec.Strategy.RollingUpdate.MaxSurge).To(HaveValue(Equal(intstr.FromInt32(3))))
		Expect(d.Spec.Strategy.RollingUpdate.MaxUnavailable).To(HaveValue(Equal(intstr.FromString("25%"))))

		r := fromSample("apps_v1alpha1_deployment.yaml", &appsv1alpha1.Deployment{}, ns)
		r.Name = "recreate"
		r.Spec.Strategy = appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType}
		Expect(k8sClient.Create(ctx, r)).To(Succeed())
		Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(r), r)).To(Succeed())
		Expect(r.Spec.Strategy.RollingUpdate).To(BeNil())
	})

	It("are persisted on a StatefulSet, a DaemonSet and a Pod", func() {
		s := applied("apps_v1alpha1_statefulset.yaml", &appsv1alpha1.StatefulSet{}, ns)
		Expect(s.Spec.PodManagementPolicy).To(Equal(appsv1.OrderedReadyPodManagement))
		Expect(s.Spec.UpdateStrategy.Type).To(Equal(appsv1.RollingUpdateStatefulSetStrategyType))
		Expect(s.Spec.UpdateStrategy.RollingUpdate.Partition).To(HaveValue(BeEquivalentTo(0)))
		Expect(s.Spec.RevisionHistoryLimit).To(HaveValue(BeEquivalentTo(10)))
		Expect(s.Spec.PersistentVolumeClaimRetentionPolicy.WhenDeleted).To(Equal(appsv1.RetainPersistentVolumeClaimRetentionPolicyType))

		ds := applied("apps_v1alpha1_daemonset.yaml", &appsv1alpha1.DaemonSet{}, ns)
		Expect(ds.Spec.UpdateStrategy.RollingUpdate.MaxUnavailable).To(HaveValue(Equal(intstr.FromInt32(1))))
		Expect(ds.Spec.UpdateStrategy.RollingUpdate.MaxSurge).To(HaveValue(Equal(intstr.FromInt32(0))))

		p := applied("core_v1alpha1_pod.yaml", &corev1alpha1.Pod{}, ns)
		Expect(p.Spec.RestartPolicy).To(Equal(corev1.RestartPolicyAlways))
		Expect(p.Spec.Containers[0].Ports[0].Protocol).To(Equal(corev1.ProtocolTCP))
		expectPodDefaults(p.Spec)
	})

	It("give a Job no restartPolicy, which its pods must state", func() {
		j := fromSample("batch_v1alpha1_job.yaml", &batchv1alpha1.Job{}, ns)
		j.Spec.Template.Spec.RestartPolicy = ""
		expectInvalid(k8sClient.Create(ctx, j), "spec.template.spec.restartPolicy")

		j = applied("batch_v1alpha1_job.yaml", &batchv1alpha1.Job{}, ns)
		Expect(j.Spec.CompletionMode).To(HaveValue(Equal(batchv1.NonIndexedCompletion)))
		Expect(j.Spec.Template.Spec.RestartPolicy).To(Equal(corev1.RestartPolicyNever))
		expectPodDefaults(j.Spec.Template.Spec)

		c := applied("batch_v1alpha1_cronjob.yaml", &batchv1alpha1.CronJob{}, ns)
		Expect(c.Spec.ConcurrencyPolicy).To(Equal(batchv1.AllowConcurrent))
		Expect(c.Spec.SuccessfulJobsHistoryLimit).To(HaveValue(BeEquivalentTo(3)))
		Expect(c.Spec.FailedJobsHistoryLimit).To(HaveValue(BeEquivalentTo(1)))
	})
})
