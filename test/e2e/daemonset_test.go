package e2e

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	appsv1alpha1 "github.com/kybern/kybern/api/apps/v1alpha1"
	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
)

var _ = Describe("DaemonSets on real containers", func() {
	It("runs one pod on each of two node agents, each seeing its own node", func() {
		startAgent("e2e-a")
		startAgent("e2e-b")
		ns, err := env.NewNamespace(ctx, "e2e-ds")
		Expect(err).NotTo(HaveOccurred())
		ds := &appsv1alpha1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "node-echo"}}
		ds.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"app": "node-echo"}}
		ds.Spec.Template.Labels = map[string]string{"app": "node-echo"}
		ds.Spec.Template.Spec.Containers = []corev1.Container{{Name: "echo", Image: "busybox",
			Command: []string{"sh", "-c", "echo on $NODE; exec sleep 3600"},
			Env:     []corev1.EnvVar{{Name: "NODE", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "spec.nodeName"}}}}}}
		Expect(k8s.Create(ctx, ds)).To(Succeed())
		DeferCleanup(func() {
			Expect(k8s.Delete(ctx, ds)).To(Succeed())
			Eventually(func(g Gomega) {
				var pods corev1alpha1.PodList
				g.Expect(k8s.List(ctx, &pods, client.InNamespace(ns))).To(Succeed())
				g.Expect(pods.Items).To(BeEmpty())
			}, "60s").Should(Succeed())
		})

		var pods corev1alpha1.PodList
		Eventually(func(g Gomega) {
			g.Expect(k8s.List(ctx, &pods, client.InNamespace(ns))).To(Succeed())
			nodes := map[string]corev1.PodPhase{}
			for _, p := range pods.Items {
				nodes[p.Spec.NodeName] = p.Status.Phase
			}
			g.Expect(pods.Items).To(HaveLen(2))
			g.Expect(nodes).To(Equal(map[string]corev1.PodPhase{"e2e-a": corev1.PodRunning, "e2e-b": corev1.PodRunning}))
		}, "60s").Should(Succeed())
		for i := range pods.Items {
			p := &pods.Items[i]
			Eventually(logOf(p, "echo", 0)).Should(ContainSubstring("stdout F on " + p.Spec.NodeName))
		}
		Eventually(func(g Gomega) {
			got := &appsv1alpha1.DaemonSet{}
			g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(ds), got)).To(Succeed())
			g.Expect(got.Status.DesiredNumberScheduled).To(Equal(int32(2)))
			g.Expect(got.Status.NumberReady).To(Equal(int32(2)))
			g.Expect(got.Status.UpdatedNumberScheduled).To(Equal(int32(2)))
		}).Should(Succeed())
	})
})
