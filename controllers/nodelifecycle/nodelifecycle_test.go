package nodelifecycle_test

import (
	"context"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/types"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	appsv1alpha1 "github.com/kybern/kybern/api/apps/v1alpha1"
	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
	"github.com/kybern/kybern/controllers/nodelifecycle"
	"github.com/kybern/kybern/test/testenv"
)

// agent plays a node agent: it registers a Ready node and renews its Lease until stopped.
type agent struct {
	node *corev1alpha1.Node
	stop context.CancelFunc
	done sync.WaitGroup
}

func startAgent(name string) *agent {
	n, err := testenv.RegisterReadyNode(ctx, k8s, name, "4", nil)
	Expect(err).NotTo(HaveOccurred())
	lease := &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Namespace: nodelifecycle.LeaseNamespace, Name: name},
		Spec: coordinationv1.LeaseSpec{HolderIdentity: ptr.To(name), LeaseDurationSeconds: ptr.To[int32](3), RenewTime: &metav1.MicroTime{Time: time.Now()}}}
	Expect(k8s.Create(ctx, lease)).To(Succeed())
	a := &agent{node: n}
	a.resume()
	DeferCleanup(func() {
		a.pause()
		Expect(client.IgnoreNotFound(k8s.Delete(ctx, n))).To(Succeed())
		Expect(client.IgnoreNotFound(k8s.Delete(ctx, lease))).To(Succeed())
	})
	return a
}

// resume starts renewing the Lease every 500 ms.
func (a *agent) resume() {
	c, stop := context.WithCancel(ctx)
	a.stop = stop
	a.done.Go(func() {
		for c.Err() == nil {
			lease := &coordinationv1.Lease{}
			if k8s.Get(c, client.ObjectKey{Namespace: nodelifecycle.LeaseNamespace, Name: a.node.Name}, lease) == nil {
				lease.Spec.RenewTime = &metav1.MicroTime{Time: time.Now()}
				_ = k8s.Update(c, lease)
			}
			time.Sleep(500 * time.Millisecond)
		}
	})
}

func (a *agent) pause() {
	a.stop()
	a.done.Wait()
}

func nodeOf(name string) func() *corev1alpha1.Node {
	return func() *corev1alpha1.Node {
		n := &corev1alpha1.Node{}
		Expect(k8s.Get(ctx, client.ObjectKey{Name: name}, n)).To(Succeed())
		return n
	}
}

// setCondition sets condition t of node name to s, as its agent would.
func setCondition(name string, t corev1.NodeConditionType, s corev1.ConditionStatus) {
	n := nodeOf(name)()
	orig := n.DeepCopy()
	conds := []corev1.NodeCondition{{Type: t, Status: s, Reason: "Test", LastHeartbeatTime: metav1.Now(), LastTransitionTime: metav1.Now()}}
	for _, c := range n.Status.Conditions {
		if c.Type != t {
			conds = append(conds, c)
		}
	}
	n.Status.Conditions = conds
	ExpectWithOffset(1, k8s.Status().Patch(ctx, n, client.MergeFrom(orig))).To(Succeed())
}

// runWeb creates a ReplicaSet of 4 pods in ns and returns how many of them each node has.
func runWeb(ns string) func() (map[string]int, error) {
	rs := &appsv1alpha1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "web"}}
	rs.Spec.Replicas = ptr.To[int32](4)
	rs.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}
	rs.Spec.Template.Labels = map[string]string{"app": "web"}
	rs.Spec.Template.Spec.Containers = []corev1.Container{{Name: "c", Image: "busybox"}}
	ExpectWithOffset(1, k8s.Create(ctx, rs)).To(Succeed())
	return func() (map[string]int, error) { return testenv.PodsPerNode(ctx, k8s, ns) }
}

var _ = Describe("Node lifecycle", Ordered, func() {
	It("gives every node its own /24 of 10.244.0.0/16", func() {
		a, b := startAgent("cidr-a"), startAgent("cidr-b")
		Eventually(func() string { return nodeOf(a.node.Name)().Spec.PodCIDR }).Should(MatchRegexp(`^10\.244\.\d+\.0/24$`))
		Eventually(func() string { return nodeOf(b.node.Name)().Spec.PodCIDR }).Should(MatchRegexp(`^10\.244\.\d+\.0/24$`))
		Expect(nodeOf(a.node.Name)().Spec.PodCIDR).NotTo(Equal(nodeOf(b.node.Name)().Spec.PodCIDR))
	})

	It("taints a node whose Lease stops, evicts its pods to another node, and untaints it when it returns", func() {
		ns, err := env.NewNamespace(ctx, "nl-test")
		Expect(err).NotTo(HaveOccurred())
		lost := startAgent("lost")
		startAgent("kept")

		perNode := runWeb(ns)
		Eventually(perNode).Should(Equal(map[string]int{"lost": 2, "kept": 2}))

		lost.pause()
		Eventually(func() []corev1.Taint { return nodeOf("lost")().Spec.Taints }).Should(ContainElement(And(
			HaveField("Key", corev1.TaintNodeUnreachable), HaveField("Effect", corev1.TaintEffectNoExecute))))
		Eventually(func() []corev1.NodeCondition { return nodeOf("lost")().Status.Conditions }).Should(ContainElement(And(
			HaveField("Type", corev1.NodeReady), HaveField("Status", corev1.ConditionUnknown))))
		Eventually(perNode).Should(Equal(map[string]int{"kept": 4}))
		Expect(nodeOf("kept")().Spec.Taints).To(BeEmpty())

		lost.resume()
		Eventually(func() []corev1.Taint { return nodeOf("lost")().Spec.Taints }).Should(BeEmpty())
	})

	It("evicts the pods of a node its agent reports not Ready after their toleration of not-ready, keeps those that tolerate it, and untaints the node when Ready", func() {
		ns, err := env.NewNamespace(ctx, "nl-notready")
		Expect(err).NotTo(HaveOccurred())
		sick := startAgent("sick")
		startAgent("healthy")
		perNode := runWeb(ns)
		Eventually(perNode).Should(Equal(map[string]int{"sick": 2, "healthy": 2}))
		stays := &corev1alpha1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "tolerant"}}
		stays.Spec.NodeName = "sick"
		stays.Spec.Containers = []corev1.Container{{Name: "c", Image: "busybox"}}
		stays.Spec.Tolerations = []corev1.Toleration{{Key: corev1.TaintNodeNotReady, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute}}
		Expect(k8s.Create(ctx, stays)).To(Succeed())

		setCondition(sick.node.Name, corev1.NodeReady, corev1.ConditionFalse)
		Eventually(func() []corev1.Taint { return nodeOf("sick")().Spec.Taints }).Should(ContainElement(And(
			HaveField("Key", corev1.TaintNodeNotReady), HaveField("Effect", corev1.TaintEffectNoExecute), HaveField("TimeAdded", Not(BeNil())))))
		Eventually(perNode).Should(Equal(map[string]int{"sick": 1, "healthy": 4}))
		Consistently(func() error { return k8s.Get(ctx, client.ObjectKeyFromObject(stays), stays) }, 3*time.Second).Should(Succeed())
		Expect(stays.DeletionTimestamp).To(BeNil(), "a pod that tolerates not-ready without a limit stays")

		setCondition(sick.node.Name, corev1.NodeReady, corev1.ConditionTrue)
		Eventually(func() []corev1.Taint { return nodeOf("sick")().Spec.Taints }).Should(BeEmpty())
	})

	It("taints a node NoSchedule by its conditions, not ready or under pressure, and untaints it when they clear", func() {
		a := startAgent("conditions")
		setCondition := func(t corev1.NodeConditionType, s corev1.ConditionStatus) { setCondition(a.node.Name, t, s) }
		taints := func() []corev1.Taint { return nodeOf(a.node.Name)().Spec.Taints }
		noSchedule := func(key string) types.GomegaMatcher {
			return ContainElement(And(HaveField("Key", key), HaveField("Effect", corev1.TaintEffectNoSchedule)))
		}

		setCondition(corev1.NodeDiskPressure, corev1.ConditionTrue)
		setCondition(corev1.NodeMemoryPressure, corev1.ConditionTrue)
		Eventually(taints).Should(And(noSchedule(corev1.TaintNodeDiskPressure), noSchedule(corev1.TaintNodeMemoryPressure)))
		setCondition(corev1.NodeReady, corev1.ConditionFalse)
		setCondition(corev1.NodePIDPressure, corev1.ConditionTrue)
		Eventually(taints).Should(And(noSchedule(corev1.TaintNodeNotReady), noSchedule(corev1.TaintNodePIDPressure)))

		setCondition(corev1.NodeDiskPressure, corev1.ConditionFalse)
		Eventually(taints).ShouldNot(noSchedule(corev1.TaintNodeDiskPressure))
		Expect(taints()).To(And(noSchedule(corev1.TaintNodeMemoryPressure), noSchedule(corev1.TaintNodeNotReady)))
		setCondition(corev1.NodeReady, corev1.ConditionTrue)
		setCondition(corev1.NodeMemoryPressure, corev1.ConditionFalse)
		setCondition(corev1.NodePIDPressure, corev1.ConditionFalse)
		Eventually(taints).Should(BeEmpty())
	})
})
