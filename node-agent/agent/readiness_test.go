package agent_test

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	appsv1alpha1 "github.com/kybern/kybern/api/apps/v1alpha1"
	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
)

// readiness is an exec readiness probe that runs command every second.
func readiness(command ...string) *corev1.Probe {
	return &corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: command}},
		PeriodSeconds: 1, TimeoutSeconds: 1, SuccessThreshold: 1, FailureThreshold: 1}
}

func deploymentCondition(d *appsv1alpha1.Deployment, t appsv1.DeploymentConditionType) *appsv1.DeploymentCondition {
	for i := range d.Status.Conditions {
		if d.Status.Conditions[i].Type == t {
			return &d.Status.Conditions[i]
		}
	}
	return nil
}

var _ = Describe("Readiness probes and Deployments", func() {
	var ns string
	BeforeEach(func() {
		var err error
		ns, err = env.NewNamespace(ctx, "readiness")
		Expect(err).NotTo(HaveOccurred())
	})

	newDeployment := func(name string, replicas int32, probe *corev1.Probe) *appsv1alpha1.Deployment {
		d := &appsv1alpha1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
		d.Spec.Replicas = ptr.To(replicas)
		d.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}}
		d.Spec.Template.Labels = map[string]string{"app": name}
		d.Spec.Template.Spec.Containers = []corev1.Container{{Name: "web", Image: "busybox", Command: []string{"httpd", "-f"}, ReadinessProbe: probe}}
		d.Spec.Strategy = appsv1.DeploymentStrategy{Type: appsv1.RollingUpdateDeploymentStrategyType, RollingUpdate: &appsv1.RollingUpdateDeployment{
			MaxSurge: ptr.To(intstr.FromInt32(1)), MaxUnavailable: ptr.To(intstr.FromInt32(1))}}
		// Its pods go with the spec, so that they do not weigh on other specs' placement.
		DeferCleanup(func() {
			Expect(k8s.Delete(ctx, d, client.PropagationPolicy(metav1.DeletePropagationForeground))).To(Succeed())
			Eventually(func() ([]corev1alpha1.Pod, error) {
				var pods corev1alpha1.PodList
				err := k8s.List(ctx, &pods, client.InNamespace(ns))
				return pods.Items, err
			}).Should(BeEmpty())
		})
		return d
	}

	It("never makes a Deployment whose pods fail readiness Available", func() {
		d := newDeployment("unready", 2, readiness("false"))
		Expect(k8s.Create(ctx, d)).To(Succeed())
		Eventually(func(g Gomega) {
			g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(d), d)).To(Succeed())
			g.Expect(d.Status.Replicas).To(Equal(int32(2)))
			g.Expect(deploymentCondition(d, appsv1.DeploymentAvailable)).To(HaveField("Status", corev1.ConditionFalse))
		}).Should(Succeed())
		Consistently(func(g Gomega) {
			g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(d), d)).To(Succeed())
			g.Expect(d.Status.AvailableReplicas).To(BeZero())
			g.Expect(d.Status.ReadyReplicas).To(BeZero())
		}, 4*time.Second).Should(Succeed())
	})

	It("stops a rollout to unready pods at maxUnavailable, keeping the old pods serving", func() {
		d := newDeployment("rollout", 4, readiness("true"))
		Expect(k8s.Create(ctx, d)).To(Succeed())
		Eventually(func(g Gomega) {
			g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(d), d)).To(Succeed())
			g.Expect(d.Status.AvailableReplicas).To(Equal(int32(4)))
		}).Should(Succeed())

		patch := client.MergeFrom(d.DeepCopy())
		d.Spec.Template.Spec.Containers[0].ReadinessProbe = readiness("false")
		Expect(k8s.Patch(ctx, d, patch)).To(Succeed())
		// 4 replicas, maxSurge 1, maxUnavailable 1: the new ReplicaSet may grow to 2 (5 pods
		// at most, 3 of them available), then the rollout waits for them forever.
		Eventually(func(g Gomega) {
			g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(d), d)).To(Succeed())
			g.Expect(d.Status.UpdatedReplicas).To(Equal(int32(2)))
			g.Expect(d.Status.Replicas).To(Equal(int32(5)))
		}).Should(Succeed())
		Consistently(func(g Gomega) {
			g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(d), d)).To(Succeed())
			g.Expect(d.Status.AvailableReplicas).To(Equal(int32(3)))
			g.Expect(d.Status.UpdatedReplicas).To(Equal(int32(2)))
			g.Expect(d.Status.Replicas).To(Equal(int32(5)))
		}, 4*time.Second).Should(Succeed())
	})
})
