package api_test

import (
	"os"
	"path/filepath"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	autoscalingv1 "k8s.io/api/autoscaling/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	appsv1alpha1 "github.com/kybern/kybern/api/apps/v1alpha1"
	autoscalingv1alpha1 "github.com/kybern/kybern/api/autoscaling/v1alpha1"
	batchv1alpha1 "github.com/kybern/kybern/api/batch/v1alpha1"
	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
)

// fromSample decodes config/samples/<file> into obj and places it in namespace ns.
func fromSample[T client.Object](file string, obj T, ns string) T {
	b, err := os.ReadFile(filepath.Join(samplesDir(), file))
	ExpectWithOffset(1, err).NotTo(HaveOccurred())
	ExpectWithOffset(1, yaml.UnmarshalStrict(b, obj)).To(Succeed())
	obj.SetNamespace(ns)
	return obj
}

// expectInvalid asserts that err is the apiserver's Invalid error and names field.
func expectInvalid(err error, field string) {
	ExpectWithOffset(1, err).To(HaveOccurred(), "the apiserver accepted it")
	ExpectWithOffset(1, apierrors.IsInvalid(err)).To(BeTrue(), "want Invalid, got %v", err)
	ExpectWithOffset(1, err.Error()).To(ContainSubstring(field))
}

var _ = Describe("Bad input", func() {
	var ns string
	BeforeEach(func() { ns = newNamespace() })

	DescribeTable("is refused on create, naming the field",
		func(build func(ns string) client.Object, field, message string) {
			err := k8sClient.Create(ctx, build(ns))
			expectInvalid(err, field)
			Expect(err.Error()).To(ContainSubstring(message))
		},
		Entry("negative ReplicaSet replicas", func(ns string) client.Object {
			rs := fromSample("apps_v1alpha1_replicaset.yaml", &appsv1alpha1.ReplicaSet{}, ns)
			rs.Spec.Replicas = ptr.To[int32](-1)
			return rs
		}, "spec.replicas", "greater than or equal to 0"),
		Entry("negative Deployment replicas", func(ns string) client.Object {
			d := fromSample("apps_v1alpha1_deployment.yaml", &appsv1alpha1.Deployment{}, ns)
			d.Spec.Replicas = ptr.To[int32](-3)
			return d
		}, "spec.replicas", "greater than or equal to 0"),
		Entry("negative StatefulSet replicas", func(ns string) client.Object {
			s := fromSample("apps_v1alpha1_statefulset.yaml", &appsv1alpha1.StatefulSet{}, ns)
			s.Spec.Replicas = ptr.To[int32](-1)
			return s
		}, "spec.replicas", "greater than or equal to 0"),
		Entry("Deployment selector not matching the template's labels", func(ns string) client.Object {
			d := fromSample("apps_v1alpha1_deployment.yaml", &appsv1alpha1.Deployment{}, ns)
			d.Spec.Template.Labels = map[string]string{"app": "other"}
			return d
		}, "spec.template.metadata.labels", "does not match"),
		Entry("ReplicaSet selector key absent from the template's labels", func(ns string) client.Object {
			rs := fromSample("apps_v1alpha1_replicaset.yaml", &appsv1alpha1.ReplicaSet{}, ns)
			rs.Spec.Selector.MatchLabels["extra"] = "x"
			return rs
		}, "spec.template.metadata.labels", "does not match"),
		Entry("DaemonSet template without labels", func(ns string) client.Object {
			ds := fromSample("apps_v1alpha1_daemonset.yaml", &appsv1alpha1.DaemonSet{}, ns)
			ds.Spec.Template.Labels = nil
			return ds
		}, "spec.template.metadata.labels", "does not match"),
		Entry("StatefulSet empty selector", func(ns string) client.Object {
			s := fromSample("apps_v1alpha1_statefulset.yaml", &appsv1alpha1.StatefulSet{}, ns)
			s.Spec.Selector = &metav1.LabelSelector{}
			return s
		}, "spec.selector", "must not be empty"),
		Entry("unknown Job completionMode", func(ns string) client.Object {
			j := fromSample("batch_v1alpha1_job.yaml", &batchv1alpha1.Job{}, ns)
			j.Spec.CompletionMode = ptr.To(batchv1.CompletionMode("Sometimes"))
			return j
		}, "spec.completionMode", "NonIndexed or Indexed"),
		Entry("negative Job parallelism", func(ns string) client.Object {
			j := fromSample("batch_v1alpha1_job.yaml", &batchv1alpha1.Job{}, ns)
			j.Spec.Parallelism = ptr.To[int32](-2)
			return j
		}, "spec.parallelism", "greater than or equal to 0"),
		Entry("Indexed Job without completions", func(ns string) client.Object {
			j := fromSample("batch_v1alpha1_job.yaml", &batchv1alpha1.Job{}, ns)
			j.Spec.CompletionMode = ptr.To(batchv1.IndexedCompletion)
			return j
		}, "spec.completions", "required when spec.completionMode is Indexed"),
		Entry("Job pods that restart Always", func(ns string) client.Object {
			j := fromSample("batch_v1alpha1_job.yaml", &batchv1alpha1.Job{}, ns)
			j.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyAlways
			return j
		}, "spec.template.spec.restartPolicy", "OnFailure or Never"),
		Entry("unknown CronJob concurrencyPolicy", func(ns string) client.Object {
			c := fromSample("batch_v1alpha1_cronjob.yaml", &batchv1alpha1.CronJob{}, ns)
			c.Spec.ConcurrencyPolicy = "Sometimes"
			return c
		}, "spec.concurrencyPolicy", "Allow, Forbid or Replace"),
		Entry("autoscaler maxReplicas below minReplicas", func(ns string) client.Object {
			h := fromSample("autoscaling_v1alpha1_horizontalpodautoscaler.yaml", &autoscalingv1alpha1.HorizontalPodAutoscaler{}, ns)
			h.Spec.MinReplicas = ptr.To[int32](5)
			h.Spec.MaxReplicas = 2
			return h
		}, "spec.maxReplicas", "greater than or equal to spec.minReplicas"),
		Entry("Pod container without a name", func(ns string) client.Object {
			p := fromSample("core_v1alpha1_pod.yaml", &corev1alpha1.Pod{}, ns)
			p.Spec.Containers[0].Name = ""
			return p
		}, "spec.containers", "name every container"),
		Entry("Pod without containers", func(ns string) client.Object {
			p := fromSample("core_v1alpha1_pod.yaml", &corev1alpha1.Pod{}, ns)
			p.Spec.Containers = nil
			return p
		}, "spec.containers", "Required value"),
	)

	It("refuses a change to an immutable selector", func() {
		d := fromSample("apps_v1alpha1_deployment.yaml", &appsv1alpha1.Deployment{}, ns)
		Expect(k8sClient.Create(ctx, d)).To(Succeed())
		d.Spec.Selector.MatchLabels = map[string]string{"app": "web"}
		d.Spec.Template.Labels = map[string]string{"app": "web"}
		expectInvalid(k8sClient.Update(ctx, d), "spec.selector")

		rs := fromSample("apps_v1alpha1_replicaset.yaml", &appsv1alpha1.ReplicaSet{}, ns)
		Expect(k8sClient.Create(ctx, rs)).To(Succeed())
		rs.Spec.Selector.MatchLabels["tier"] = "backend"
		rs.Spec.Template.Labels["tier"] = "backend"
		expectInvalid(k8sClient.Update(ctx, rs), "spec.selector")
	})

	It("lets a pod be bound once, and refuses to move a bound pod", func() {
		p := fromSample("core_v1alpha1_pod.yaml", &corev1alpha1.Pod{}, ns)
		Expect(k8sClient.Create(ctx, p)).To(Succeed())

		bind := client.MergeFrom(p.DeepCopy())
		p.Spec.NodeName = "node-a"
		Expect(k8sClient.Patch(ctx, p, bind)).To(Succeed())

		move := client.MergeFrom(p.DeepCopy())
		p.Spec.NodeName = "node-b"
		err := k8sClient.Patch(ctx, p, move)
		expectInvalid(err, "spec.nodeName")
		Expect(err.Error()).To(ContainSubstring("immutable once set"))

		unbind := client.RawPatch("application/merge-patch+json", []byte(`{"spec":{"nodeName":null}}`))
		expectInvalid(k8sClient.Patch(ctx, p, unbind), "spec.nodeName")
	})

	It("refuses changes upstream forbids on a StatefulSet and a Job, and allows the rest", func() {
		s := fromSample("apps_v1alpha1_statefulset.yaml", &appsv1alpha1.StatefulSet{}, ns)
		Expect(k8sClient.Create(ctx, s)).To(Succeed())
		changed := s.DeepCopy()
		changed.Spec.ServiceName = "other"
		expectInvalid(k8sClient.Update(ctx, changed), "spec.serviceName")
		changed = s.DeepCopy()
		changed.Spec.PodManagementPolicy = "Parallel"
		expectInvalid(k8sClient.Update(ctx, changed), "spec.podManagementPolicy")
		s.Spec.Replicas = ptr.To[int32](5)
		s.Spec.Template.Spec.Containers[0].Image = "busybox:1.36"
		Expect(k8sClient.Update(ctx, s)).To(Succeed())

		j := fromSample("batch_v1alpha1_job.yaml", &batchv1alpha1.Job{}, ns)
		j.Spec.Completions = ptr.To[int32](2)
		Expect(k8sClient.Create(ctx, j)).To(Succeed())
		changedJob := j.DeepCopy()
		changedJob.Spec.CompletionMode = ptr.To(batchv1.IndexedCompletion)
		expectInvalid(k8sClient.Update(ctx, changedJob), "spec.completionMode")
		changedJob = j.DeepCopy()
		changedJob.Spec.Completions = ptr.To[int32](3)
		expectInvalid(k8sClient.Update(ctx, changedJob), "spec.completions")
	})

	It("refuses negative replicas through the scale subresource", func() {
		rs := fromSample("apps_v1alpha1_replicaset.yaml", &appsv1alpha1.ReplicaSet{}, ns)
		Expect(k8sClient.Create(ctx, rs)).To(Succeed())
		scale := &autoscalingv1.Scale{}
		Expect(k8sClient.SubResource("scale").Get(ctx, rs, scale)).To(Succeed())
		scale.Spec.Replicas = -1
		err := k8sClient.SubResource("scale").Update(ctx, rs, client.WithSubResourceBody(scale))
		Expect(err).To(HaveOccurred())
		Expect(apierrors.IsInvalid(err)).To(BeTrue(), "want Invalid, got %v", err)
	})
})
