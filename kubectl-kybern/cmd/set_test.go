package cmd_test

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	batchv1alpha1 "github.com/kybern/kybern/api/batch/v1alpha1"
	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
)

var _ = Describe("set image", func() {
	var ns string

	BeforeEach(func() { ns = newNamespace() })

	It("sets the images of a Deployment's containers and init containers", func() {
		d := newDeployment(ns, "web:2")
		Expect(kybern("-n", ns, "set", "image", "deployment/web", "web=web:3", "init=busybox:2")).To(Equal(result{Out: "deployment.apps.kybern.io/web image updated\n"}))
		get(d)
		Expect(d.Spec.Template.Spec.Containers[0].Image).To(Equal("web:3"))
		Expect(d.Spec.Template.Spec.InitContainers[0].Image).To(Equal("busybox:2"))

		Expect(kybern("-n", ns, "set", "image", "deploy", "web", "web=web:3")).To(Equal(result{}), "nothing to change, nothing reported")
		Expect(kybern("-n", ns, "set", "image", "deployment/web", "x=x:1")).To(Equal(result{Err: `error: unable to find container named "x"` + "\n", Code: 1}))
	})

	It("sets every container's image of a Pod and a CronJob's job template", func() {
		pod := &corev1alpha1.Pod{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "p"},
			Spec:       template("p", "p:1").Spec,
		}
		Expect(k8s.Create(ctx, pod)).To(Succeed())
		Expect(kybern("-n", ns, "set", "image", "pod/p", "*=all:2")).To(Equal(result{Out: "pod/p image updated\n"}))
		get(pod)
		Expect(pod.Spec.Containers[0].Image).To(Equal("all:2"))
		Expect(pod.Spec.InitContainers[0].Image).To(Equal("all:2"))

		jobTemplate := template("cj", "cj:1")
		jobTemplate.Spec.RestartPolicy = corev1.RestartPolicyNever
		cj := &batchv1alpha1.CronJob{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "cj"},
			Spec:       batchv1.CronJobSpec{Schedule: "*/5 * * * *", JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{Template: jobTemplate}}},
		}
		Expect(k8s.Create(ctx, cj)).To(Succeed())
		Expect(kybern("-n", ns, "set", "image", "cj/cj", "cj=cj:2", "-o", "name")).To(Equal(result{Out: "cronjob.batch.kybern.io/cj\n"}))
		Expect(get(cj).Spec.JobTemplate.Spec.Template.Spec.Containers[0].Image).To(Equal("cj:2"))
	})

	It("leaves the object alone under --dry-run=client", func() {
		d := newDeployment(ns, "web:2")
		Expect(kybern("-n", ns, "set", "image", "kydeploy/web", "web=web:9", "--dry-run=client")).To(Equal(result{Out: "deployment.apps.kybern.io/web image updated (dry run)\n"}))
		Expect(get(d).Spec.Template.Spec.Containers[0].Image).To(Equal("web:2"))
	})
})
