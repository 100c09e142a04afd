package e2e

import (
	"os/exec"
	"path/filepath"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	appsv1alpha1 "github.com/kybern/kybern/api/apps/v1alpha1"
	batchv1alpha1 "github.com/kybern/kybern/api/batch/v1alpha1"
	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
)

var _ = Describe("An upstream application converted, rolled back and drained with kubectl kybern", Ordered, func() {
	var ns string
	BeforeAll(func() {
		startAgent("e2e-a")
		startAgent("e2e-b")
		var err error
		ns, err = env.NewPodSecurityNamespace(ctx, "e2e-plugin", "baseline")
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(func() {
			for _, node := range []string{"e2e-a", "e2e-b"} {
				out, err := plugin(ctx, ns, "uncordon", node).CombinedOutput()
				Expect(err).NotTo(HaveOccurred(), string(out))
			}
			Expect(k8s.DeleteAllOf(ctx, &appsv1alpha1.Deployment{}, client.InNamespace(ns))).To(Succeed())
			Expect(k8s.DeleteAllOf(ctx, &batchv1alpha1.Job{}, client.InNamespace(ns))).To(Succeed())
			Eventually(func(g Gomega) {
				var sets appsv1alpha1.ReplicaSetList
				g.Expect(k8s.List(ctx, &sets, client.InNamespace(ns))).To(Succeed())
				g.Expect(sets.Items).To(BeEmpty())
			}).Should(Succeed(), "the garbage collector removes the Deployment's ReplicaSets")
			deletePodsIn(ns)
		})
	})

	run := func(args ...string) string {
		out, err := plugin(ctx, ns, args...).CombinedOutput()
		Expect(err).NotTo(HaveOccurred(), "kubectl kybern %s: %s", strings.Join(args, " "), out)
		return string(out)
	}
	deployment := func() *appsv1alpha1.Deployment {
		d := &appsv1alpha1.Deployment{}
		Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "nginx-deployment"}, d)).To(Succeed())
		return d
	}
	nginxPods := func(g Gomega) []corev1alpha1.Pod {
		var pods corev1alpha1.PodList
		g.Expect(k8s.List(ctx, &pods, client.InNamespace(ns), client.MatchingLabels{"app": "nginx"})).To(Succeed())
		return pods.Items
	}

	It("converts upstream's manifests, which then run unchanged otherwise", func() {
		converted := run("convert", "-f", filepath.Join("testdata", "upstream-app.yaml"))
		Expect(converted).To(ContainSubstring("apiVersion: apps.kybern.io/v1alpha1"))
		apply := exec.CommandContext(ctx, env.KubectlPath, "--kubeconfig", env.Kubeconfig, "-n", ns, "apply", "--server-side", "-f", "-")
		apply.Stdin = strings.NewReader(converted)
		out, err := apply.CombinedOutput()
		Expect(err).NotTo(HaveOccurred(), string(out))
		Expect(string(out)).To(And(ContainSubstring("deployment.apps.kybern.io/nginx-deployment serverside-applied"),
			ContainSubstring("service.core.kybern.io/nginx serverside-applied"), ContainSubstring("job.batch.kybern.io/pi serverside-applied")))

		Expect(run("rollout", "status", "deployment/nginx-deployment", "--timeout=2m")).To(ContainSubstring(`deployment "nginx-deployment" successfully rolled out`))
		Eventually(func(g Gomega) {
			svc := &corev1alpha1.Service{}
			g.Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "nginx"}, svc)).To(Succeed())
			g.Expect(svc.Spec.ClusterIP).To(HavePrefix("10.96."))
		}).Should(Succeed())
		Eventually(func(g Gomega) {
			job := &batchv1alpha1.Job{}
			g.Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "pi"}, job)).To(Succeed())
			g.Expect(job.Status.Succeeded).To(Equal(int32(1)))
		}, "2m").Should(Succeed())
		Expect(run("logs", "job/pi")).To(Equal("3.1415826536\n"))
	})

	It("rolls a new image out and back with rollout undo, and rollout status waits for it", func() {
		Expect(run("set", "image", "deployment/nginx-deployment", "nginx=docker.io/library/busybox:latest")).
			To(Equal("deployment.apps.kybern.io/nginx-deployment image updated\n"))
		Expect(run("rollout", "status", "deployment/nginx-deployment", "--timeout=2m")).To(ContainSubstring("successfully rolled out"))
		Expect(run("rollout", "history", "deployment/nginx-deployment")).To(MatchRegexp(`(?m)^1 .*\n2 `))

		Expect(run("rollout", "undo", "deployment/nginx-deployment")).To(Equal("deployment.apps.kybern.io/nginx-deployment rolled back\n"))
		status := plugin(ctx, ns, "rollout", "status", "deployment/nginx-deployment", "--timeout=2m")
		out, err := status.CombinedOutput()
		Expect(err).NotTo(HaveOccurred(), string(out))
		Expect(status.ProcessState.ExitCode()).To(Equal(0))
		Expect(string(out)).To(ContainSubstring(`deployment "nginx-deployment" successfully rolled out`))
		Expect(deployment().Spec.Template.Spec.Containers[0].Image).To(Equal("busybox"))
		Eventually(func(g Gomega) {
			pods := nginxPods(g)
			g.Expect(pods).To(HaveLen(2))
			for _, p := range pods {
				g.Expect(p.Spec.Containers[0].Image).To(Equal("busybox"))
				g.Expect(p.DeletionTimestamp).To(BeNil())
			}
		}).Should(Succeed())
	})

	It("drains a node: its pods are deleted and the ReplicaSet replaces them on the other", func() {
		// Both replicas on e2e-a first, so that the drain has something to move.
		Expect(run("cordon", "e2e-b")).To(Equal("node/e2e-b cordoned\n"))
		Expect(run("rollout", "restart", "deployment/nginx-deployment")).To(Equal("deployment.apps.kybern.io/nginx-deployment restarted\n"))
		Expect(run("rollout", "status", "deployment/nginx-deployment", "--timeout=2m")).To(ContainSubstring("successfully rolled out"))
		Eventually(func(g Gomega) {
			for _, p := range nginxPods(g) {
				g.Expect(p.Spec.NodeName).To(Equal("e2e-a"))
			}
		}).Should(Succeed())
		Expect(run("uncordon", "e2e-b")).To(Equal("node/e2e-b uncordoned\n"))

		out := run("drain", "e2e-a", "--pod-selector", "app=nginx", "--timeout=2m")
		Expect(out).To(And(ContainSubstring("node/e2e-a cordoned"), ContainSubstring("node/e2e-a drained")))
		node := &corev1alpha1.Node{}
		Expect(k8s.Get(ctx, client.ObjectKey{Name: "e2e-a"}, node)).To(Succeed())
		Expect(node.Spec.Unschedulable).To(BeTrue())
		Eventually(func(g Gomega) {
			pods := nginxPods(g)
			g.Expect(pods).To(HaveLen(2))
			for _, p := range pods {
				g.Expect(p.Spec.NodeName).To(Equal("e2e-b"))
				g.Expect(p.Status.Phase).To(Equal(corev1.PodRunning))
			}
		}, "2m").Should(Succeed())
		Expect(run("rollout", "status", "deployment/nginx-deployment", "--timeout=2m")).To(ContainSubstring("successfully rolled out"))
		Expect(deployment().Status.AvailableReplicas).To(Equal(int32(2)))
	})
})
