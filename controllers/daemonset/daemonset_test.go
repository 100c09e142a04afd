package daemonset_test

import (
	"fmt"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	appsv1alpha1 "github.com/kybern/kybern/api/apps/v1alpha1"
	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
	"github.com/kybern/kybern/controllers/daemonset"
	"github.com/kybern/kybern/controllers/internal/specvalidation"
	"github.com/kybern/kybern/test/testenv"
)

// testLabel marks the nodes of one test, and every DaemonSet of the test selects them, so
// that tests sharing the cluster do not see each other's nodes.
const testLabel = "daemonset-test"

// registerNodes creates ready nodes <ns>-<name> for the test of namespace ns and deletes
// them after it.
func registerNodes(ns string, names ...string) []string {
	var out []string
	for _, n := range names {
		name := ns + "-" + n
		_, err := testenv.RegisterReadyNode(ctx, k8s, name, "4", map[string]string{testLabel: ns})
		ExpectWithOffset(1, err).NotTo(HaveOccurred())
		DeferCleanup(func() {
			Expect(client.IgnoreNotFound(k8s.Delete(ctx, &corev1alpha1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}}))).To(Succeed())
		})
		out = append(out, name)
	}
	return out
}

func newDS(ns, name string) *appsv1alpha1.DaemonSet {
	ds := &appsv1alpha1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
	ds.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}}
	ds.Spec.Template.Labels = map[string]string{"app": name}
	ds.Spec.Template.Spec.NodeSelector = map[string]string{testLabel: ns}
	ds.Spec.Template.Spec.Containers = []corev1.Container{{Name: "agent", Image: "busybox:1"}}
	return ds
}

// podsOf lists the pods ds controls that are not being deleted.
func podsOf(ds *appsv1alpha1.DaemonSet) []corev1alpha1.Pod {
	var list corev1alpha1.PodList
	ExpectWithOffset(1, k8s.List(ctx, &list, client.InNamespace(ds.Namespace))).To(Succeed())
	var out []corev1alpha1.Pod
	for _, p := range list.Items {
		if metav1.IsControlledBy(&p, ds) && p.DeletionTimestamp == nil {
			out = append(out, p)
		}
	}
	return out
}

// perNode counts ds's bound pods per node; an unbound pod counts under "".
func perNode(ds *appsv1alpha1.DaemonSet) func() map[string]int {
	return func() map[string]int {
		out := map[string]int{}
		for _, p := range podsOf(ds) {
			out[p.Spec.NodeName]++
		}
		return out
	}
}

func onEach(nodes ...string) map[string]int {
	out := map[string]int{}
	for _, n := range nodes {
		out[n] = 1
	}
	return out
}

func statusOf(ds *appsv1alpha1.DaemonSet) func(Gomega) appsv1alpha1.DaemonSetStatus {
	return func(g Gomega) appsv1alpha1.DaemonSetStatus {
		got := &appsv1alpha1.DaemonSet{}
		g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(ds), got)).To(Succeed())
		return got.Status
	}
}

func revisionsOf(ds *appsv1alpha1.DaemonSet) []appsv1.ControllerRevision {
	var list appsv1.ControllerRevisionList
	ExpectWithOffset(1, k8s.List(ctx, &list, client.InNamespace(ds.Namespace))).To(Succeed())
	return list.Items
}

func patchDS(ds *appsv1alpha1.DaemonSet, mutate func(*appsv1alpha1.DaemonSet)) {
	orig := ds.DeepCopy()
	mutate(ds)
	ExpectWithOffset(1, k8s.Patch(ctx, ds, client.MergeFrom(orig))).To(Succeed())
}

func patchNode(name string, mutate func(*corev1alpha1.Node)) {
	n := &corev1alpha1.Node{}
	ExpectWithOffset(1, k8s.Get(ctx, client.ObjectKey{Name: name}, n)).To(Succeed())
	orig := n.DeepCopy()
	mutate(n)
	ExpectWithOffset(1, k8s.Patch(ctx, n, client.MergeFrom(orig))).To(Succeed())
}

var _ = Describe("The DaemonSet controller", func() {
	var ns string
	BeforeEach(func() { ns = newNamespace() })

	It("acts on no DaemonSet upstream's validation refuses, one stored past admission: it says why, and creates no pods", func() {
		registerNodes(ns, "a")
		ds := newDS(ns, "never")
		ds.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyNever
		Expect(k8s.Create(ctx, ds)).To(Succeed())
		Eventually(testenv.EventsOf(ctx, k8s, ds, "DaemonSet")).Should(ContainElement(And(HaveField("Reason", specvalidation.ReasonInvalidSpec),
			HaveField("Message", ContainSubstring("spec.template.spec.restartPolicy")))))
		invalidSpec := And(HaveField("Type", BeEquivalentTo(specvalidation.ConditionReplicaFailure)), HaveField("Reason", specvalidation.ReasonInvalidSpec))
		conditions := func(g Gomega) []appsv1.DaemonSetCondition {
			got := &appsv1alpha1.DaemonSet{}
			g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(ds), got)).To(Succeed())
			return got.Status.Conditions
		}
		Eventually(conditions).Should(ContainElement(invalidSpec))
		Expect(podsOf(ds)).To(BeEmpty())

		By("fixing the template, which the controller then acts on")
		Expect(k8s.Get(ctx, client.ObjectKeyFromObject(ds), ds)).To(Succeed())
		ds.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyAlways
		Expect(k8s.Update(ctx, ds)).To(Succeed())
		Eventually(func() []corev1alpha1.Pod { return podsOf(ds) }).Should(HaveLen(1))
		Eventually(conditions).ShouldNot(ContainElement(invalidSpec))
	})

	It("runs one pod on every node, targeted by node affinity and bound by the scheduler, and reports it", func() {
		nodes := registerNodes(ns, "a", "b", "c")
		ds := newDS(ns, "agent")
		Expect(k8s.Create(ctx, ds)).To(Succeed())
		Eventually(perNode(ds)).Should(Equal(onEach(nodes...)))
		Consistently(perNode(ds), "1s").Should(Equal(onEach(nodes...)))

		revs := revisionsOf(ds)
		Expect(revs).To(HaveLen(1))
		Expect(revs[0].Revision).To(BeEquivalentTo(1))
		Expect(metav1.IsControlledBy(&revs[0], ds)).To(BeTrue())
		hash := revs[0].Labels[daemonset.RevisionHashLabel]
		Expect(revs[0].Name).To(Equal("agent-" + hash))
		for _, p := range podsOf(ds) {
			Expect(p.Labels).To(HaveKeyWithValue(daemonset.RevisionHashLabel, hash))
			Expect(p.Labels).To(HaveKeyWithValue(daemonset.TemplateGenerationLabel, fmt.Sprint(ds.Generation)))
			terms := p.Spec.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms
			Expect(terms).To(Equal([]corev1.NodeSelectorTerm{{MatchFields: []corev1.NodeSelectorRequirement{
				{Key: "metadata.name", Operator: corev1.NodeSelectorOpIn, Values: []string{p.Spec.NodeName}}}}}))
			Expect(p.Spec.Tolerations).To(ContainElement(corev1.Toleration{Key: corev1.TaintNodeNotReady,
				Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute}))
		}
		Eventually(statusOf(ds)).Should(And(HaveField("DesiredNumberScheduled", BeEquivalentTo(3)),
			HaveField("CurrentNumberScheduled", BeEquivalentTo(3)), HaveField("UpdatedNumberScheduled", BeEquivalentTo(3)),
			HaveField("NumberReady", BeEquivalentTo(0)), HaveField("NumberUnavailable", BeEquivalentTo(3))))

		By("counting pods ready and available once the node agent says so")
		startKubelet(ns)
		Eventually(statusOf(ds)).Should(Equal(appsv1alpha1.DaemonSetStatus{DaemonSetStatus: appsv1.DaemonSetStatus{
			DesiredNumberScheduled: 3, CurrentNumberScheduled: 3, NumberReady: 3, NumberAvailable: 3,
			UpdatedNumberScheduled: 3, ObservedGeneration: ds.Generation,
		}}))
		Expect(revisionsOf(ds)).To(HaveLen(1), "a reconcile must find the revision it made, not make another")
	})

	It("follows its nodes: a new node gets a pod, a deleted or relabelled one loses it", func() {
		nodes := registerNodes(ns, "a", "b")
		ds := newDS(ns, "follow")
		Expect(k8s.Create(ctx, ds)).To(Succeed())
		Eventually(perNode(ds)).Should(Equal(onEach(nodes...)))

		added := registerNodes(ns, "c")[0]
		Eventually(perNode(ds)).Should(Equal(onEach(nodes[0], nodes[1], added)))

		Expect(k8s.Delete(ctx, &corev1alpha1.Node{ObjectMeta: metav1.ObjectMeta{Name: nodes[0]}})).To(Succeed())
		Eventually(perNode(ds)).Should(Equal(onEach(nodes[1], added)))

		patchNode(nodes[1], func(n *corev1alpha1.Node) { delete(n.Labels, testLabel) })
		Eventually(perNode(ds)).Should(Equal(onEach(added)))
		Eventually(statusOf(ds)).Should(And(HaveField("DesiredNumberScheduled", BeEquivalentTo(1)),
			HaveField("CurrentNumberScheduled", BeEquivalentTo(1)), HaveField("NumberMisscheduled", BeEquivalentTo(0))))
	})

	It("skips a tainted node unless tolerated, keeps its pod under NoSchedule and loses it under NoExecute", func() {
		nodes := registerNodes(ns, "a", "b")
		patchNode(nodes[1], func(n *corev1alpha1.Node) {
			n.Spec.Taints = []corev1.Taint{{Key: "dedicated", Value: "gpu", Effect: corev1.TaintEffectNoSchedule}}
		})
		ds := newDS(ns, "taints")
		Expect(k8s.Create(ctx, ds)).To(Succeed())
		Eventually(perNode(ds)).Should(Equal(onEach(nodes[0])))
		Consistently(perNode(ds), "1s").Should(Equal(onEach(nodes[0])))

		patchDS(ds, func(ds *appsv1alpha1.DaemonSet) {
			ds.Spec.Template.Spec.Tolerations = []corev1.Toleration{{Key: "dedicated", Operator: corev1.TolerationOpEqual, Value: "gpu"}}
		})
		// The new template also rolls the pod on the first node: wait until it is replaced
		// and bound, or the taint below would meet its replacement still unscheduled.
		Eventually(statusOf(ds)).Should(And(HaveField("UpdatedNumberScheduled", BeEquivalentTo(2)),
			HaveField("CurrentNumberScheduled", BeEquivalentTo(2))))
		Eventually(perNode(ds)).Should(Equal(onEach(nodes...)))

		By("keeping a running pod when a NoSchedule taint it does not tolerate comes, as misscheduled")
		patchNode(nodes[0], func(n *corev1alpha1.Node) {
			n.Spec.Taints = []corev1.Taint{{Key: "maintenance", Effect: corev1.TaintEffectNoSchedule}}
		})
		Eventually(statusOf(ds)).Should(And(HaveField("DesiredNumberScheduled", BeEquivalentTo(1)),
			HaveField("NumberMisscheduled", BeEquivalentTo(1))))
		Consistently(perNode(ds), "1s").Should(Equal(onEach(nodes...)))

		By("deleting it under a NoExecute taint")
		patchNode(nodes[0], func(n *corev1alpha1.Node) {
			n.Spec.Taints = append(n.Spec.Taints, corev1.Taint{Key: "maintenance", Effect: corev1.TaintEffectNoExecute})
		})
		Eventually(perNode(ds)).Should(Equal(onEach(nodes[1])))
		Eventually(statusOf(ds)).Should(HaveField("NumberMisscheduled", BeEquivalentTo(0)))
	})

	It("adopts a matching orphan in place of a new pod, and deletes a newer surplus one", func() {
		nodes := registerNodes(ns, "a", "b")
		orphan := func(node string) *corev1alpha1.Pod {
			p := &corev1alpha1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, GenerateName: "orphan-", Labels: map[string]string{"app": "adopt"}}}
			p.Spec.NodeName = node
			p.Spec.Containers = []corev1.Container{{Name: "agent", Image: "busybox:1"}}
			ExpectWithOffset(1, k8s.Create(ctx, p)).To(Succeed())
			return p
		}
		first := orphan(nodes[0])
		ds := newDS(ns, "adopt")
		// A RollingUpdate would replace the orphan at once: it has no revision hash.
		ds.Spec.UpdateStrategy = appsv1.DaemonSetUpdateStrategy{Type: appsv1.OnDeleteDaemonSetStrategyType}
		Expect(k8s.Create(ctx, ds)).To(Succeed())
		Eventually(perNode(ds)).Should(Equal(onEach(nodes...)))
		Expect(podsOf(ds)).To(ContainElement(HaveField("UID", first.UID)))
		// Creation times count in seconds: this also makes the next orphan strictly newer.
		Consistently(perNode(ds), "1s").Should(Equal(onEach(nodes...)))

		By("deleting a second pod on a node, the newer one")
		second := orphan(nodes[0])
		Eventually(func(g Gomega) {
			got := &corev1alpha1.Pod{}
			err := k8s.Get(ctx, client.ObjectKeyFromObject(second), got)
			g.Expect(apierrors.IsNotFound(err) || got.DeletionTimestamp != nil).To(BeTrue())
		}).Should(Succeed())
		Consistently(perNode(ds), "1s").Should(Equal(onEach(nodes...)))
		Expect(podsOf(ds)).To(ContainElement(HaveField("UID", first.UID)))
	})

	It("replaces a failed pod", func() {
		nodes := registerNodes(ns, "a")
		ds := newDS(ns, "failing")
		Expect(k8s.Create(ctx, ds)).To(Succeed())
		Eventually(perNode(ds)).Should(Equal(onEach(nodes...)))
		p := podsOf(ds)[0]
		orig := p.DeepCopy()
		p.Status.Phase = corev1.PodFailed
		Expect(k8s.Status().Patch(ctx, &p, client.MergeFrom(orig))).To(Succeed())
		Eventually(func(g Gomega) {
			pods := podsOf(ds)
			g.Expect(pods).To(HaveLen(1))
			g.Expect(pods[0].UID).NotTo(Equal(p.UID))
			g.Expect(pods[0].Spec.NodeName).To(Equal(nodes[0]))
		}).Should(Succeed())
	})
})
