package agent_test

import (
	"net"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	appsv1alpha1 "github.com/kybern/kybern/api/apps/v1alpha1"
	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
	"github.com/kybern/kybern/node-agent/agent"
	"github.com/kybern/kybern/node-agent/podworker"
	"github.com/kybern/kybern/node-agent/runtime"
)

func getPod(ns, name string) func() (*corev1alpha1.Pod, error) {
	return func() (*corev1alpha1.Pod, error) {
		p := &corev1alpha1.Pod{}
		err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, p)
		return p, err
	}
}

func barePod(ns, name string, policy corev1.RestartPolicy, command ...string) *corev1alpha1.Pod {
	p := &corev1alpha1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
	p.Spec.RestartPolicy = policy
	p.Spec.Containers = []corev1.Container{{Name: "main", Image: "busybox", Command: command}}
	return p
}

var _ = Describe("The node agent", func() {
	var ns string
	BeforeEach(func() {
		var err error
		ns, err = env.NewNamespace(ctx, "agent-test")
		Expect(err).NotTo(HaveOccurred())
	})

	It("registers each node Ready, with its capacity and labels, and renews its Lease", func() {
		for _, name := range nodes {
			Eventually(func(g Gomega) {
				n := &corev1alpha1.Node{}
				g.Expect(k8s.Get(ctx, client.ObjectKey{Name: name}, n)).To(Succeed())
				g.Expect(n.Labels).To(HaveKeyWithValue(corev1.LabelHostname, name))
				g.Expect(n.Labels).To(HaveKeyWithValue(corev1.LabelOSStable, "linux"))
				g.Expect(n.Status.Allocatable.Cpu().String()).To(Equal("8"))
				g.Expect(n.Status.NodeInfo.ContainerRuntimeVersion).To(Equal("simulated://1.0"))
				g.Expect(n.Status.Conditions).To(ContainElement(And(HaveField("Type", corev1.NodeReady), HaveField("Status", corev1.ConditionTrue))))
				lease := &coordinationv1.Lease{}
				g.Expect(k8s.Get(ctx, client.ObjectKey{Namespace: agent.LeaseNamespace, Name: name}, lease)).To(Succeed())
				g.Expect(lease.Spec.RenewTime).NotTo(BeNil())
				g.Expect(lease.OwnerReferences).To(ConsistOf(And(HaveField("Kind", "Node"), HaveField("UID", n.UID))))
			}).Should(Succeed())
		}
	})

	It("runs a Deployment's pods on both nodes until the Deployment is Available", func() {
		d := &appsv1alpha1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "web"}}
		d.Spec.Replicas = ptr.To[int32](4)
		d.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}
		d.Spec.Template.Labels = map[string]string{"app": "web"}
		d.Spec.Template.Spec.Containers = []corev1.Container{{Name: "web", Image: "busybox", Command: []string{"httpd", "-f"}}}
		Expect(k8s.Create(ctx, d)).To(Succeed())
		Eventually(func(g Gomega) {
			g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(d), d)).To(Succeed())
			g.Expect(d.Status.AvailableReplicas).To(Equal(int32(4)))
		}).Should(Succeed())

		var pods corev1alpha1.PodList
		Expect(k8s.List(ctx, &pods, client.InNamespace(ns))).To(Succeed())
		perNode := map[string]int{}
		for _, p := range pods.Items {
			perNode[p.Spec.NodeName]++
			Expect(p.Status.Phase).To(Equal(corev1.PodRunning))
			Expect(p.Finalizers).To(ContainElement(corev1alpha1.NodeAgentFinalizer))
			node := &corev1alpha1.Node{}
			Expect(k8s.Get(ctx, client.ObjectKey{Name: p.Spec.NodeName}, node)).To(Succeed())
			_, cidr, err := net.ParseCIDR(node.Spec.PodCIDR)
			Expect(err).NotTo(HaveOccurred())
			Expect(cidr.Contains(net.ParseIP(p.Status.PodIP))).To(BeTrue(), "pod IP %q outside node %s's CIDR %s", p.Status.PodIP, node.Name, node.Spec.PodCIDR)
			Expect(p.Status.ContainerStatuses).To(ConsistOf(And(HaveField("Ready", true), HaveField("State.Running", Not(BeNil())),
				HaveField("ContainerID", HavePrefix("simulated://")))))
		}
		Expect(perNode).To(Equal(map[string]int{"sim-0": 2, "sim-1": 2}))
	})

	It("finishes a pod's deletion once its containers have stopped", func() {
		p := barePod(ns, "sleeper", corev1.RestartPolicyAlways, "sleep", "3600")
		Expect(k8s.Create(ctx, p)).To(Succeed())
		Eventually(getPod(ns, p.Name)).Should(HaveField("Status.Phase", corev1.PodRunning))
		Expect(k8s.Delete(ctx, p)).To(Succeed())
		Eventually(func() bool {
			_, err := getPod(ns, p.Name)()
			return apierrors.IsNotFound(err)
		}).Should(BeTrue())
	})

	It("reports a container that exits 1 under restartPolicy Never as Failed", func() {
		p := barePod(ns, "fails", corev1.RestartPolicyNever, "sh", "-c", "exit 1")
		Expect(k8s.Create(ctx, p)).To(Succeed())
		Eventually(getPod(ns, p.Name)).Should(And(HaveField("Status.Phase", corev1.PodFailed),
			HaveField("Status.ContainerStatuses", ConsistOf(HaveField("State.Terminated", And(Not(BeNil()),
				HaveField("ExitCode", int32(1)), HaveField("Reason", "Error")))))))
	})

	It("restarts a crashing container under restartPolicy Always, backing off", func() {
		p := barePod(ns, "crashes", corev1.RestartPolicyAlways, "false")
		Expect(k8s.Create(ctx, p)).To(Succeed())
		Eventually(getPod(ns, p.Name)).Should(HaveField("Status.ContainerStatuses", ConsistOf(And(
			HaveField("RestartCount", BeNumerically(">=", 1)),
			HaveField("State.Waiting", And(Not(BeNil()), HaveField("Reason", podworker.ReasonCrashLoopBackOff))),
			HaveField("LastTerminationState.Terminated.ExitCode", int32(1))))))
		Expect(getPod(ns, p.Name)()).To(HaveField("Status.Phase", corev1.PodRunning))
	})

	It("releases a sandbox that no pod of the node holds, and keeps those of its pods", func() {
		p := barePod(ns, "keeper", corev1.RestartPolicyAlways, "sleep", "3600")
		p.Spec.NodeName = "sim-0"
		Expect(k8s.Create(ctx, p)).To(Succeed())
		Eventually(getPod(ns, "keeper")).Should(HaveField("Status.Phase", corev1.PodRunning))
		got, err := getPod(ns, "keeper")()
		Expect(err).NotTo(HaveOccurred())

		rt := runtimes["sim-0"]
		_, err = rt.StartSandbox(ctx, runtime.PodRef{UID: "left-by-a-crash", Namespace: ns, Name: "gone"})
		Expect(err).NotTo(HaveOccurred())
		Eventually(func() ([]types.UID, error) { return rt.Sandboxes(ctx) }, "25s").ShouldNot(ContainElement(types.UID("left-by-a-crash")))
		Expect(rt.Sandboxes(ctx)).To(ContainElement(got.UID))
	})
})
