package e2e

import (
	"os"
	"path/filepath"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	appsv1alpha1 "github.com/kybern/kybern/api/apps/v1alpha1"
	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
	"github.com/kybern/kybern/node-agent/podworker"
)

// lostNode is the node a spec loses for good.
const lostNode = "e2e-lost"

var _ = Describe("A node lost for good", func() {
	It("has its pods collected once its Node is deleted, so that a StatefulSet's pod starts again on another node", func() {
		startAgent("e2e-a")
		startAgent(lostNode)
		ns, err := env.NewNamespace(ctx, "e2e-podgc")
		Expect(err).NotTo(HaveOccurred())
		set := statefulSetOn(ns, lostNode, "e2e-a")
		set.Spec.Template.Spec.Containers = []corev1.Container{{Name: "db", Image: "busybox", Command: []string{"sleep", "3600"}}}
		Expect(k8s.Create(ctx, set)).To(Succeed())
		DeferCleanup(func() {
			Expect(k8s.Delete(ctx, set)).To(Succeed())
			deletePodsIn(ns)
		})
		pod := &corev1alpha1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "db-0"}}
		Eventually(current(pod)).Should(And(HaveField("Spec.NodeName", lostNode), HaveField("Status.Phase", corev1.PodRunning)))
		first, err := current(pod)()
		Expect(err).NotTo(HaveOccurred())
		Expect(first.Finalizers).To(ContainElement(corev1alpha1.NodeAgentFinalizer))

		By("stopping the node's agent for good and deleting its Node")
		stopAgent(lostNode)
		DeferCleanup(func() { removeOrphan(lostNode, first) })
		Expect(k8s.Delete(ctx, &corev1alpha1.Node{ObjectMeta: metav1.ObjectMeta{Name: lostNode}})).To(Succeed())

		By("the pod garbage collector lets the pod go; the StatefulSet starts db-0 again on e2e-a")
		Eventually(func(g Gomega) {
			now, err := current(pod)()
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(now.UID).NotTo(Equal(first.UID))
			g.Expect(now.Spec.NodeName).To(Equal("e2e-a"))
			g.Expect(now.Status.Phase).To(Equal(corev1.PodRunning))
		}).Should(Succeed())
	})
})

// statefulSetOn is a StatefulSet of one pod, "db-0", on node while it is there, then on
// fallback; the caller gives it its containers.
func statefulSetOn(ns, node, fallback string) *appsv1alpha1.StatefulSet {
	set := &appsv1alpha1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "db"}}
	set.Spec.Replicas = ptr.To[int32](1)
	set.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"app": "db"}}
	set.Spec.Template.Labels = map[string]string{"app": "db"}
	hostIn := func(nodes ...string) []corev1.NodeSelectorRequirement {
		return []corev1.NodeSelectorRequirement{{Key: corev1.LabelHostname, Operator: corev1.NodeSelectorOpIn, Values: nodes}}
	}
	set.Spec.Template.Spec = corev1.PodSpec{TerminationGracePeriodSeconds: ptr.To[int64](1),
		Affinity: &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{
			RequiredDuringSchedulingIgnoredDuringExecution:  &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchExpressions: hostIn(node, fallback)}}},
			PreferredDuringSchedulingIgnoredDuringExecution: []corev1.PreferredSchedulingTerm{{Weight: 100, Preference: corev1.NodeSelectorTerm{MatchExpressions: hostIn(node)}}},
		}}}
	return set
}

// removeOrphan removes what is left on the host of node, whose agent stopped while its pod
// db ran, then the node: an agent started again for that name finds the container
// orphaned and removes it, then its logs, and the node is retired.
func removeOrphan(node string, pod *corev1alpha1.Pod) {
	startAgent(node)
	Eventually(func() bool {
		_, err := os.Stat(filepath.Dir(filepath.Dir(podworker.LogPath(filepath.Join(work, "logs"), pod, "db", 0))))
		return os.IsNotExist(err)
	}).Should(BeTrue(), "the agent removes the orphaned pod's containers, then its logs")
	retireNode(node)
}
