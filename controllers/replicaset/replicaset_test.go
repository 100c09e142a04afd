package replicaset_test

import (
	"fmt"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	appsv1alpha1 "github.com/kybern/kybern/api/apps/v1alpha1"
	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
	"github.com/kybern/kybern/controllers/internal/podutil"
	"github.com/kybern/kybern/controllers/internal/specvalidation"
	"github.com/kybern/kybern/controllers/replicaset"
	"github.com/kybern/kybern/test/testenv"
)

func newRS(ns, name string, replicas int32) *appsv1alpha1.ReplicaSet {
	rs := &appsv1alpha1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
	rs.Spec.Replicas = ptr.To(replicas)
	rs.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}}
	rs.Spec.Template.Labels = map[string]string{"app": name, "tier": "web"}
	rs.Spec.Template.Spec.Containers = []corev1.Container{{Name: "web", Image: "busybox"}}
	return rs
}

// podsOf lists the pods in ns that rs controls and that are not being deleted.
func podsOf(rs *appsv1alpha1.ReplicaSet) []corev1alpha1.Pod {
	var list corev1alpha1.PodList
	ExpectWithOffset(1, k8s.List(ctx, &list, client.InNamespace(rs.Namespace))).To(Succeed())
	var out []corev1alpha1.Pod
	for _, p := range list.Items {
		if metav1.IsControlledBy(&p, rs) && p.DeletionTimestamp == nil {
			out = append(out, p)
		}
	}
	return out
}

// invalidSpec matches the condition of an object upstream's validation refuses.
var invalidSpec = And(HaveField("Type", BeEquivalentTo(specvalidation.ConditionReplicaFailure)),
	HaveField("Status", corev1.ConditionTrue), HaveField("Reason", specvalidation.ReasonInvalidSpec))

func countOf(rs *appsv1alpha1.ReplicaSet) func() int {
	return func() int { return len(podsOf(rs)) }
}

func statusOf(rs *appsv1alpha1.ReplicaSet) func(Gomega) appsv1alpha1.ReplicaSetStatus {
	return func(g Gomega) appsv1alpha1.ReplicaSetStatus {
		got := &appsv1alpha1.ReplicaSet{}
		g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(rs), got)).To(Succeed())
		return got.Status
	}
}

func scale(rs *appsv1alpha1.ReplicaSet, n int32) {
	orig := rs.DeepCopy()
	rs.Spec.Replicas = ptr.To(n)
	ExpectWithOffset(1, k8s.Patch(ctx, rs, client.MergeFrom(orig))).To(Succeed())
}

var _ = Describe("The ReplicaSet controller", func() {
	var ns string
	BeforeEach(func() { ns = newNamespace() })

	It("creates spec.replicas pods from the template, owned by the ReplicaSet, and reports them", func() {
		rs := newRS(ns, "web", 3)
		Expect(k8s.Create(ctx, rs)).To(Succeed())
		Eventually(countOf(rs)).Should(Equal(3))
		Consistently(countOf(rs), "1s").Should(Equal(3))
		for _, p := range podsOf(rs) {
			Expect(p.Name).To(HavePrefix("web-"))
			Expect(p.Labels).To(Equal(map[string]string{"app": "web", "tier": "web"}))
			ref := metav1.GetControllerOf(&p)
			Expect(ref.Kind).To(Equal("ReplicaSet"))
			Expect(*ref.BlockOwnerDeletion).To(BeTrue())
			Expect(p.Spec.Containers[0].Image).To(Equal("busybox"))
		}
		Eventually(statusOf(rs)).Should(And(
			HaveField("Replicas", BeEquivalentTo(3)), HaveField("FullyLabeledReplicas", BeEquivalentTo(3)),
			HaveField("ReadyReplicas", BeEquivalentTo(0)), HaveField("LabelSelector", Equal("app=web"))))

		By("counting pods ready and available once the node agent says so")
		for _, p := range podsOf(rs) {
			markReady(&p, time.Now())
		}
		Eventually(statusOf(rs)).Should(And(
			HaveField("ReadyReplicas", BeEquivalentTo(3)), HaveField("AvailableReplicas", BeEquivalentTo(3))))
	})

	It("replaces a deleted pod, and scales down deleting not-ready pods first", func() {
		rs := newRS(ns, "scale", 4)
		Expect(k8s.Create(ctx, rs)).To(Succeed())
		Eventually(countOf(rs)).Should(Equal(4))

		victim := podsOf(rs)[0]
		Expect(k8s.Delete(ctx, &victim)).To(Succeed())
		Eventually(func() bool {
			for _, p := range podsOf(rs) {
				if p.Name == victim.Name {
					return false
				}
			}
			return len(podsOf(rs)) == 4
		}).Should(BeTrue())

		ready := map[string]bool{}
		for _, p := range podsOf(rs)[:2] {
			markReady(&p, time.Now().Add(-time.Minute))
			ready[p.Name] = true
		}
		Eventually(statusOf(rs)).Should(HaveField("ReadyReplicas", BeEquivalentTo(2)))
		scale(rs, 2)
		Eventually(countOf(rs)).Should(Equal(2))
		for _, p := range podsOf(rs) {
			Expect(ready).To(HaveKey(p.Name), "scale-down kept not-ready pod %s over a ready one", p.Name)
		}
	})

	It("deletes pods with a lower pod-deletion-cost first", func() {
		rs := newRS(ns, "cost", 3)
		Expect(k8s.Create(ctx, rs)).To(Succeed())
		Eventually(countOf(rs)).Should(Equal(3))
		pods := podsOf(rs)
		for i, p := range pods {
			orig := p.DeepCopy()
			p.Annotations = map[string]string{podutil.PodDeletionCostAnnotation: fmt.Sprint(100 * i)}
			Expect(k8s.Patch(ctx, &p, client.MergeFrom(orig))).To(Succeed())
		}
		// The controller ranks victims by what its cache shows: wait until it shows the costs.
		Eventually(func(g Gomega) {
			for _, p := range pods {
				got := &corev1alpha1.Pod{}
				g.Expect(suite.Manager.Cache.Get(ctx, client.ObjectKeyFromObject(&p), got)).To(Succeed())
				g.Expect(got.Annotations).To(HaveKey(podutil.PodDeletionCostAnnotation))
			}
		}).Should(Succeed())
		scale(rs, 1)
		Eventually(countOf(rs)).Should(Equal(1))
		Expect(podsOf(rs)[0].Name).To(Equal(pods[2].Name))
	})

	It("adopts a matching orphan instead of creating a pod, and releases a pod that stops matching", func() {
		orphan := &corev1alpha1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "orphan", Labels: map[string]string{"app": "adopt"}}}
		orphan.Spec.Containers = []corev1.Container{{Name: "web", Image: "busybox"}}
		Expect(k8s.Create(ctx, orphan)).To(Succeed())

		rs := newRS(ns, "adopt", 2)
		Expect(k8s.Create(ctx, rs)).To(Succeed())
		Eventually(countOf(rs)).Should(Equal(2))
		Consistently(countOf(rs), "1s").Should(Equal(2))
		Expect(k8s.Get(ctx, client.ObjectKeyFromObject(orphan), orphan)).To(Succeed())
		Expect(metav1.IsControlledBy(orphan, rs)).To(BeTrue(), "the orphan was not adopted")

		By("relabelling the adopted pod so the selector no longer matches it")
		orig := orphan.DeepCopy()
		orphan.Labels = map[string]string{"app": "elsewhere"}
		Expect(k8s.Patch(ctx, orphan, client.MergeFrom(orig))).To(Succeed())
		Eventually(func(g Gomega) {
			g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(orphan), orphan)).To(Succeed())
			g.Expect(metav1.GetControllerOf(orphan)).To(BeNil())
		}).Should(Succeed())
		Eventually(countOf(rs)).Should(Equal(2))
	})

	It("reports ReplicaFailure with the apiserver's message when pods are refused, in few attempts, and clears it once fixed", func() {
		// An admission policy of the cluster's own refuses this namespace's pods.
		policy := &admissionregistrationv1.ValidatingAdmissionPolicy{ObjectMeta: metav1.ObjectMeta{Name: "no-pods-in-" + ns},
			Spec: admissionregistrationv1.ValidatingAdmissionPolicySpec{
				FailurePolicy: ptr.To(admissionregistrationv1.Fail),
				MatchConstraints: &admissionregistrationv1.MatchResources{ResourceRules: []admissionregistrationv1.NamedRuleWithOperations{{
					RuleWithOperations: admissionregistrationv1.RuleWithOperations{Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create},
						Rule: admissionregistrationv1.Rule{APIGroups: []string{"core.kybern.io"}, APIVersions: []string{"*"}, Resources: []string{"pods"}}}}}},
				Validations: []admissionregistrationv1.Validation{{Expression: "false", Message: "pods are refused in this namespace"}}}}
		binding := &admissionregistrationv1.ValidatingAdmissionPolicyBinding{ObjectMeta: metav1.ObjectMeta{Name: policy.Name},
			Spec: admissionregistrationv1.ValidatingAdmissionPolicyBindingSpec{PolicyName: policy.Name,
				ValidationActions: []admissionregistrationv1.ValidationAction{admissionregistrationv1.Deny},
				MatchResources:    &admissionregistrationv1.MatchResources{NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"kubernetes.io/metadata.name": ns}}}}}
		Expect(k8s.Create(ctx, policy)).To(Succeed())
		Expect(k8s.Create(ctx, binding)).To(Succeed())
		Eventually(func() error {
			probe := &corev1alpha1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "probe"},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "busybox"}}}}
			return k8s.Create(ctx, probe, client.DryRunAll)
		}).Should(MatchError(ContainSubstring("pods are refused in this namespace")), "the apiserver applies the policy")
		rs := newRS(ns, "refused", 50)
		Expect(k8s.Create(ctx, rs)).To(Succeed())
		Eventually(func(g Gomega) []appsv1.ReplicaSetCondition { return statusOf(rs)(g).Conditions }).Should(ContainElement(And(
			HaveField("Type", appsv1.ReplicaSetReplicaFailure), HaveField("Reason", replicaset.ReasonFailedCreate),
			HaveField("Message", ContainSubstring("pods are refused in this namespace")))))

		By("having tried few creates: slow start stops at the first refused batch of each sync")
		var events corev1.EventList
		Expect(k8s.List(ctx, &events, client.InNamespace(ns))).To(Succeed())
		var failed int32
		for _, e := range events.Items {
			if e.InvolvedObject.Name == rs.Name && e.Reason == replicaset.ReasonFailedCreate {
				failed += max(e.Count, 1)
			}
		}
		Expect(failed).To(BeNumerically("<", 10), "a refused template cost %d creates", failed)

		Expect(k8s.Delete(ctx, binding)).To(Succeed())
		Expect(k8s.Delete(ctx, policy)).To(Succeed())
		Eventually(countOf(rs), "60s").Should(Equal(50))
		Eventually(func(g Gomega) []appsv1.ReplicaSetCondition { return statusOf(rs)(g).Conditions }).Should(BeEmpty())
	})

	It("counts a pod available only after minReadySeconds, without another event", func() {
		rs := newRS(ns, "minready", 1)
		rs.Spec.MinReadySeconds = 2
		Expect(k8s.Create(ctx, rs)).To(Succeed())
		Eventually(countOf(rs)).Should(Equal(1))
		markReady(&podsOf(rs)[0], time.Now())
		Eventually(statusOf(rs)).Should(HaveField("ReadyReplicas", BeEquivalentTo(1)))
		Expect(statusOf(rs)(Default).AvailableReplicas).To(BeEquivalentTo(0))
		Eventually(statusOf(rs), "10s").Should(HaveField("AvailableReplicas", BeEquivalentTo(1)))
	})

	It("acts on no ReplicaSet upstream's validation refuses, one stored past admission: it says why, and creates no pods", func() {
		rs := newRS(ns, "mismatched", 3)
		// The CRD's rules check matchLabels only; upstream's validation also checks this.
		rs.Spec.Selector.MatchExpressions = []metav1.LabelSelectorRequirement{{Key: "tier", Operator: metav1.LabelSelectorOpIn, Values: []string{"db"}}}
		Expect(k8s.Create(ctx, rs)).To(Succeed())
		Eventually(testenv.EventsOf(ctx, k8s, rs, "ReplicaSet")).Should(ContainElement(And(HaveField("Reason", specvalidation.ReasonInvalidSpec),
			HaveField("Message", ContainSubstring("spec.template.metadata.labels")))))
		Eventually(statusOf(rs)).Should(HaveField("Conditions", ContainElement(invalidSpec)))
		Expect(podsOf(rs)).To(BeEmpty())

		By("fixing the template, which the controller then acts on")
		Expect(k8s.Get(ctx, client.ObjectKeyFromObject(rs), rs)).To(Succeed())
		rs.Spec.Template.Labels["tier"] = "db"
		Expect(k8s.Update(ctx, rs)).To(Succeed())
		Eventually(countOf(rs)).Should(Equal(3))
		Eventually(statusOf(rs)).ShouldNot(HaveField("Conditions", ContainElement(invalidSpec)))
	})
})
