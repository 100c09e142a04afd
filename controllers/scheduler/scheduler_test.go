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
		rs := &appsv1alpha1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "web"}}
		rs.Spec.Replicas = ptr.To[int32](4)
		rs.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}
		rs.Spec.Template.Labels = map[string]string{"app": "web"}
		rs.Spec.Template.Spec.Containers = []corev1.Container{{Name: "c", Image: "busybox",
			Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("600m")}}}}
		Expect(k8s.Create(ctx, rs)).To(Succeed())

		// 3 nodes of 1 cpu, 4 pods of 600m: one pod per node, the fourth waits.
		perNode := func() (map[string]int, error) { return testenv.PodsPerNode(ctx, k8s, ns) }
		Eventually(perNode).Should(Equal(map[string]int{"n0": 1, "n1": 1, "n2": 1, "": 1}))
		Consistently(perNode, "2s").Should(Equal(map[string]int{"n0": 1, "n1": 1, "n2": 1, "": 1}))
	})
})
