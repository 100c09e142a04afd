package metricsserver_test

import (
	"encoding/json"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metricsv1beta1 "k8s.io/metrics/pkg/apis/metrics/v1beta1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
	"github.com/kybern/kybern/test/testenv"
)

var _ = Describe("The metrics API", Ordered, func() {
	var ns string
	BeforeAll(func() {
		var err error
		ns, err = env.NewNamespace(ctx, "metrics")
		Expect(err).NotTo(HaveOccurred())
		agent.cpuMillis.Store(500)
		agent.namespace.Store(ns)

		node, err := testenv.RegisterReadyNode(ctx, k8s, "metrics-node", "4", nil)
		Expect(err).NotTo(HaveOccurred())
		orig := node.DeepCopy()
		node.Status.Addresses = []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "127.0.0.1"}}
		node.Status.DaemonEndpoints.KubeletEndpoint.Port = int32(agent.port)
		Expect(k8s.Status().Patch(ctx, node, client.MergeFrom(orig))).To(Succeed())

		pod := &corev1alpha1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "web", Labels: map[string]string{"app": "web"}},
			Spec: corev1.PodSpec{NodeName: "metrics-node", Containers: []corev1.Container{{Name: "c", Image: "busybox"}}}}
		Expect(k8s.Create(ctx, pod)).To(Succeed())
	})

	It("serves a pod's usage, scraped from its node agent, through the apiserver", func() {
		var m metricsv1beta1.PodMetrics
		Eventually(func(g Gomega) {
			out, err := env.Kubectl(ctx, "get", "--raw", "/apis/metrics.kybern.io/v1beta1/namespaces/"+ns+"/pods/web")
			g.Expect(err).NotTo(HaveOccurred(), out)
			g.Expect(json.Unmarshal([]byte(out), &m)).To(Succeed())
		}).Should(Succeed())
		Expect(m.Kind).To(Equal("PodMetrics"))
		Expect(m.Labels).To(HaveKeyWithValue("app", "web"))
		Expect(m.Containers).To(HaveLen(1))
		cpu := m.Containers[0].Usage[corev1.ResourceCPU]
		Expect(cpu.MilliValue()).To(BeNumerically("~", 500, 25))
		mem := m.Containers[0].Usage[corev1.ResourceMemory]
		Expect(mem.Value()).To(Equal(int64(8 << 20)))
	})

	It("lists pods by label selector and nodes, and prints tables for kubectl get", func() {
		out, err := env.Kubectl(ctx, "get", "--raw", "/apis/metrics.kybern.io/v1beta1/namespaces/"+ns+"/pods?labelSelector=app%3Dother")
		Expect(err).NotTo(HaveOccurred(), out)
		var list metricsv1beta1.PodMetricsList
		Expect(json.Unmarshal([]byte(out), &list)).To(Succeed())
		Expect(list.Items).To(BeEmpty())

		Eventually(func(g Gomega) {
			out, err := env.Kubectl(ctx, "get", "nodemetrics.metrics.kybern.io", "metrics-node")
			g.Expect(err).NotTo(HaveOccurred(), out)
			g.Expect(out).To(MatchRegexp(`NAME\s+CPU\s+MEMORY\s+WINDOW`))
			g.Expect(out).To(MatchRegexp(`metrics-node\s+\d+`))
		}).Should(Succeed())
		out, err = env.Kubectl(ctx, "get", "podmetrics.metrics.kybern.io", "-n", ns, "-l", "app=web")
		Expect(err).NotTo(HaveOccurred(), out)
		Expect(out).To(MatchRegexp(`web\s+\d+`))
	})

	It("answers NotFound for a pod it has no usage of, and Forbidden to a user without RBAC", func() {
		out, err := env.Kubectl(ctx, "get", "podmetrics.metrics.kybern.io", "-n", ns, "missing")
		Expect(err).To(HaveOccurred())
		Expect(out).To(ContainSubstring(`podmetrics.metrics.kybern.io "missing" not found`))

		out, err = env.Kubectl(ctx, "get", "--raw", "/apis/metrics.kybern.io/v1beta1/namespaces/"+ns+"/pods", "--as", "nobody")
		Expect(err).To(HaveOccurred())
		Expect(out).To(ContainSubstring("Forbidden"))
	})

	It("removes its APIService when it stops, and registers it again when it starts", func() {
		Expect(suite.RestartManager(func() {
			_, err := env.Kubectl(ctx, "get", "apiservice", "v1beta1.metrics.kybern.io")
			Expect(err).To(HaveOccurred())
		})).To(Succeed())
		Eventually(func(g Gomega) {
			out, err := env.Kubectl(ctx, "get", "apiservice", "v1beta1.metrics.kybern.io", "-o", "jsonpath={.status.conditions[?(@.type=='Available')].status}")
			g.Expect(err).NotTo(HaveOccurred(), out)
			g.Expect(out).To(Equal("True"))
		}).Should(Succeed())
	})
})
