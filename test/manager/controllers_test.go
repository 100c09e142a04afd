package manager_test

import (
	"syscall"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gexec"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	appsv1alpha1 "github.com/kybern/kybern/api/apps/v1alpha1"
	batchv1alpha1 "github.com/kybern/kybern/api/batch/v1alpha1"
	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
	"github.com/kybern/kybern/test/testenv"
)

var _ = Describe("The manager's --controllers flag", func() {
	It("runs only the controllers it names", func() {
		ns, err := env.NewNamespace(ctx, "controllers-flag")
		Expect(err).NotTo(HaveOccurred())
		template := corev1.PodTemplateSpec{
			ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
			Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "busybox"}}},
		}
		job := &batchv1alpha1.Job{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "batch"}}
		job.Spec.Template.Spec = template.Spec
		job.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyNever
		Expect(env.Client.Create(ctx, job)).To(Succeed())
		d := &appsv1alpha1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "web"}}
		d.Spec.Replicas = ptr.To[int32](2)
		d.Spec.Selector = &metav1.LabelSelector{MatchLabels: template.Labels}
		d.Spec.Template = template
		Expect(env.Client.Create(ctx, d)).To(Succeed())
		// A node for the scheduler; others that specs before this one registered may take
		// the pods instead.
		_, err = testenv.RegisterReadyNode(ctx, env.Client, "controllers-flag", "8", nil)
		Expect(err).NotTo(HaveOccurred())

		s := startManager("--metrics-bind-address", "0", "--health-probe-bind-address", "0", "--leader-elect=false",
			"--controllers=deployment,replicaset,scheduler")
		DeferCleanup(func() {
			s.Signal(syscall.SIGTERM)
			Eventually(s, "40s").Should(gexec.Exit(0))
		})

		By("the Deployment and ReplicaSet controllers creating the Deployment's pods")
		Eventually(func(g Gomega) {
			var pods corev1alpha1.PodList
			g.Expect(env.Client.List(ctx, &pods, client.InNamespace(ns), client.MatchingLabels{"app": "web"})).To(Succeed())
			owners := map[string]int{}
			for _, p := range pods.Items {
				owners[metav1.GetControllerOf(&p).Kind]++
			}
			g.Expect(owners).To(HaveKeyWithValue("ReplicaSet", 2))
			g.Expect(pods.Items).To(HaveEach(HaveField("Spec.NodeName", Not(BeEmpty()))), "bound by the scheduler")
		}, "30s").Should(Succeed())

		By("the Job controller, which is not named, leaving the Job alone")
		var pods corev1alpha1.PodList
		Expect(env.Client.List(ctx, &pods, client.InNamespace(ns))).To(Succeed())
		Expect(pods.Items).To(HaveEach(HaveField("ObjectMeta.OwnerReferences", ContainElement(HaveField("Kind", "ReplicaSet")))))
		Expect(env.Client.Get(ctx, client.ObjectKeyFromObject(job), job)).To(Succeed())
		Expect(job.Status.StartTime).To(BeNil())
	})

	It("refuses a name that is not a controller, listing the names it takes", func() {
		s := startManager("--metrics-bind-address", "0", "--health-probe-bind-address", "0", "--leader-elect=false",
			"--controllers=deployment,horizontalpodautoscaler")
		Eventually(s, "20s").Should(gexec.Exit(1))
		// The log is JSON: the quotes around the name are escaped.
		Expect(string(s.Err.Contents())).To(ContainSubstring(`--controllers: \"horizontalpodautoscaler\" is not a controller; choose among *, scheduler, replicaset, deployment`))
	})
})
