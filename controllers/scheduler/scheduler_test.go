package scheduler_test

import (
	"fmt"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	appsv1alpha1 "github.com/kybern/kybern/api/apps/v1alpha1"
	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
	"github.com/kybern/kybern/test/testenv"
)

// newNode registers a Ready node with cpu to allocate and the given labels, removed when
// the spec ends.
func newNode(name, cpu string, labels map[string]string) *corev1alpha1.Node {
	n, err := testenv.RegisterReadyNode(ctx, k8s, name, cpu, labels)
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(func() { Expect(client.IgnoreNotFound(k8s.Delete(ctx, n))).To(Succeed()) })
	return n
}

func newPod(ns, name, cpu string) *corev1alpha1.Pod {
	p := &corev1alpha1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
	p.Spec.Containers = []corev1.Container{{Name: "c", Image: "busybox",
		Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu)}}}}
	return p
}

func nodeOf(p *corev1alpha1.Pod) func() string {
	return func() string {
		got := &corev1alpha1.Pod{}
		Expect(k8s.Get(ctx, client.ObjectKeyFromObject(p), got)).To(Succeed())
		return got.Spec.NodeName
	}
}

// The nodes of one spec are cluster-wide, so the specs run one after the other and each
// cleans up its nodes.
var _ = Describe("The scheduler", Ordered, func() {
	var ns string
	BeforeEach(func() {
		var err error
		ns, err = env.NewNamespace(ctx, "sched-test")
		Expect(err).NotTo(HaveOccurred())
	})

	It("binds a pod to the node that fits, honouring nodeSelector", func() {
		newNode("small", "500m", map[string]string{"zone": "east"})
		newNode("big", "4", map[string]string{"zone": "west"})
		p := newPod(ns, "fits", "1")
		Expect(k8s.Create(ctx, p)).To(Succeed())
		Eventually(nodeOf(p)).Should(Equal("big"))

		q := newPod(ns, "east", "100m")
		q.Spec.NodeSelector = map[string]string{"zone": "east"}
		Expect(k8s.Create(ctx, q)).To(Succeed())
		Eventually(nodeOf(q)).Should(Equal("small"))
	})

	It("leaves pods of another scheduler alone", func() {
		newNode("any", "4", nil)
		p := newPod(ns, "other", "100m")
		p.Spec.SchedulerName = "my-scheduler"
		Expect(k8s.Create(ctx, p)).To(Succeed())
		Consistently(nodeOf(p), "2s").Should(BeEmpty())
	})

	It("says why a pod fits nowhere, then binds it once a node that fits appears", func() {
		tainted := newNode("tainted", "8", nil)
		Eventually(func() error {
			if err := k8s.Get(ctx, client.ObjectKeyFromObject(tainted), tainted); err != nil {
				return err
			}
			tainted.Spec.Taints = []corev1.Taint{{Key: "dedicated", Value: "db", Effect: corev1.TaintEffectNoSchedule}}
			return k8s.Update(ctx, tainted)
		}).Should(Succeed())
		newNode("tiny", "500m", nil)
		p := newPod(ns, "waits", "2")
		Expect(k8s.Create(ctx, p)).To(Succeed())
		Eventually(func() []corev1.PodCondition {
			got := &corev1alpha1.Pod{}
			Expect(k8s.Get(ctx, client.ObjectKeyFromObject(p), got)).To(Succeed())
			return got.Status.Conditions
		}).Should(ContainElement(And(HaveField("Type", corev1.PodScheduled), HaveField("Reason", corev1.PodReasonUnschedulable),
			HaveField("Message", "0/2 nodes are available: 1 Insufficient cpu, 1 node(s) had untolerated taint {dedicated: db}."))))

		newNode("roomy", "4", nil)
		Eventually(nodeOf(p)).Should(Equal("roomy"))
	})

	It("never gives the same capacity to two pods, and spreads a ReplicaSet's pods", func() {
		for i := range 3 {
			newNode(fmt.Sprintf("n%d", i), "1", nil)
		}
		rs := newReplicaSet(ns, "web", 4, "600m")
		Expect(k8s.Create(ctx, rs)).To(Succeed())

		// 3 nodes of 1 cpu, 4 pods of 600m: one pod per node, the fourth waits.
		perNode := func() (map[string]int, error) { return testenv.PodsPerNode(ctx, k8s, ns) }
		Eventually(perNode).Should(Equal(map[string]int{"n0": 1, "n1": 1, "n2": 1, "": 1}))
		Consistently(perNode, "2s").Should(Equal(map[string]int{"n0": 1, "n1": 1, "n2": 1, "": 1}))
	})

	It("honours required node affinity, cordoned nodes and host ports", func() {
		newNode("ssd", "4", map[string]string{"disk": "ssd"})
		newNode("hdd", "4", map[string]string{"disk": "hdd"})
		cordoned := newNode("cordoned", "4", map[string]string{"disk": "ssd"})
		Eventually(func() error {
			if err := k8s.Get(ctx, client.ObjectKeyFromObject(cordoned), cordoned); err != nil {
				return err
			}
			cordoned.Spec.Unschedulable = true
			return k8s.Update(ctx, cordoned)
		}).Should(Succeed())
		withPort := func(name string) *corev1alpha1.Pod {
			p := newPod(ns, name, "100m")
			p.Spec.Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{
				NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "disk", Operator: corev1.NodeSelectorOpIn, Values: []string{"ssd"}}}}}}}}
			p.Spec.Containers[0].Ports = []corev1.ContainerPort{{ContainerPort: 80, HostPort: 8080}}
			return p
		}
		first := withPort("first")
		Expect(k8s.Create(ctx, first)).To(Succeed())
		Eventually(nodeOf(first)).Should(Equal("ssd"))
		Expect(k8s.Create(ctx, withPort("second"))).To(Succeed())
		Eventually(waitingMessages(ns)).Should(ConsistOf("0/3 nodes are available: 1 node(s) didn't have free ports for the requested pod ports, " +
			"1 node(s) didn't match Pod's node affinity/selector, 1 node(s) were unschedulable."))

		// The port is freed with the pod that held it, and the waiting pod takes it.
		Expect(k8s.Delete(ctx, first)).To(Succeed())
		Eventually(nodeOf(&corev1alpha1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "second"}})).Should(Equal("ssd"))
	})

	It("creates a ReplicaSet's pods already bound, one write each", func() {
		newNode("w1", "4", nil)
		newNode("w2", "4", nil)
		rs := newReplicaSet(ns, "bound", 6, "100m")
		Expect(k8s.Create(ctx, rs)).To(Succeed())
		perNode := func() (map[string]int, error) { return testenv.PodsPerNode(ctx, k8s, ns) }
		Eventually(perNode).Should(Equal(map[string]int{"w1": 3, "w2": 3}))
		// A pod bound after its creation has had its spec changed: generation 2.
		var pods corev1alpha1.PodList
		Expect(k8s.List(ctx, &pods, client.InNamespace(ns))).To(Succeed())
		for _, p := range pods.Items {
			Expect(p.Generation).To(Equal(int64(1)), "pod %s was written twice", p.Name)
		}
	})

	It("keeps replicas with required anti-affinity apart, and binds the one left over once a node appears", func() {
		newNode("h1", "4", nil)
		newNode("h2", "4", nil)
		rs := newReplicaSet(ns, "apart", 3, "100m")
		rs.Spec.Template.Spec.Affinity = &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{
			RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{{TopologyKey: "kubernetes.io/hostname",
				LabelSelector: &metav1.LabelSelector{MatchLabels: rs.Spec.Template.Labels}}}}}
		Expect(k8s.Create(ctx, rs)).To(Succeed())
		perNode := func() (map[string]int, error) { return testenv.PodsPerNode(ctx, k8s, ns) }
		Eventually(perNode).Should(Equal(map[string]int{"h1": 1, "h2": 1, "": 1}))
		Eventually(waitingMessages(ns)).Should(ConsistOf("0/2 nodes are available: 2 node(s) didn't match pod anti-affinity rules."))

		newNode("h3", "4", nil)
		Eventually(perNode).Should(Equal(map[string]int{"h1": 1, "h2": 1, "h3": 1}))
	})

	It("spreads a ReplicaSet across zones by its topology spread constraint", func() {
		newNode("z1a", "4", map[string]string{"zone": "z1"})
		newNode("z1b", "4", map[string]string{"zone": "z1"})
		newNode("z2a", "4", map[string]string{"zone": "z2"})
		rs := newReplicaSet(ns, "zones", 4, "100m")
		rs.Spec.Template.Spec.TopologySpreadConstraints = []corev1.TopologySpreadConstraint{{MaxSkew: 1, TopologyKey: "zone",
			WhenUnsatisfiable: corev1.DoNotSchedule, LabelSelector: &metav1.LabelSelector{MatchLabels: rs.Spec.Template.Labels}}}
		Expect(k8s.Create(ctx, rs)).To(Succeed())
		perZone := func() (map[string]int, error) {
			perNode, err := testenv.PodsPerNode(ctx, k8s, ns)
			zones := map[string]int{}
			for n, count := range perNode {
				zones[map[string]string{"z1a": "z1", "z1b": "z1", "z2a": "z2"}[n]] += count
			}
			return zones, err
		}
		Eventually(perZone).Should(Equal(map[string]int{"z1": 2, "z2": 2}))
	})

	It("binds a pod that needs a companion once the companion is placed", func() {
		newNode("c1", "4", nil)
		newNode("c2", "4", nil)
		p := newPod(ns, "follower", "100m")
		p.Spec.Affinity = &corev1.Affinity{PodAffinity: &corev1.PodAffinity{
			RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{{TopologyKey: "kubernetes.io/hostname",
				LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "db"}}}}}}
		Expect(k8s.Create(ctx, p)).To(Succeed())
		Eventually(waitingMessages(ns)).Should(ConsistOf("0/2 nodes are available: 2 node(s) didn't match pod affinity rules."))

		db := newPod(ns, "db", "100m")
		db.Labels = map[string]string{"app": "db"}
		Expect(k8s.Create(ctx, db)).To(Succeed())
		Eventually(nodeOf(db)).ShouldNot(BeEmpty())
		Eventually(nodeOf(p)).Should(Equal(nodeOf(db)()))
	})
})

func newReplicaSet(ns, name string, replicas int32, cpu string) *appsv1alpha1.ReplicaSet {
	rs := &appsv1alpha1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
	rs.Spec.Replicas = ptr.To(replicas)
	rs.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}}
	rs.Spec.Template.Labels = map[string]string{"app": name}
	rs.Spec.Template.Spec.Containers = []corev1.Container{{Name: "c", Image: "busybox",
		Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu)}}}}
	return rs
}

// waitingMessages returns the Unschedulable messages of the pods in ns.
func waitingMessages(ns string) func() ([]string, error) {
	return func() ([]string, error) {
		var pods corev1alpha1.PodList
		if err := k8s.List(ctx, &pods, client.InNamespace(ns)); err != nil {
			return nil, err
		}
		var out []string
		for _, p := range pods.Items {
			for _, c := range p.Status.Conditions {
				if c.Type == corev1.PodScheduled && c.Reason == corev1.PodReasonUnschedulable {
					out = append(out, c.Message)
				}
			}
		}
		return out, nil
	}
}
