package podgc_test

import (
	"fmt"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
	"github.com/kybern/kybern/controllers/podgc"
	"github.com/kybern/kybern/test/testenv"
)

// hold is a finalizer of the test's own, which keeps a pod the collector deleted readable.
const hold = "test.kybern.io/hold"

// boundPod creates a running pod on node that its agent holds, as a node agent would.
func boundPod(ns, name, node string, finalizers ...string) *corev1alpha1.Pod {
	p := &corev1alpha1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name,
		Finalizers: append([]string{corev1alpha1.NodeAgentFinalizer}, finalizers...)}}
	p.Spec.NodeName = node
	p.Spec.Containers = []corev1.Container{{Name: "c", Image: "busybox"}}
	ExpectWithOffset(1, k8s.Create(ctx, p)).To(Succeed())
	setPhase(p, corev1.PodRunning)
	return p
}

func setPhase(p *corev1alpha1.Pod, phase corev1.PodPhase) {
	orig := p.DeepCopy()
	p.Status.Phase = phase
	ExpectWithOffset(1, k8s.Status().Patch(ctx, p, client.MergeFrom(orig))).To(Succeed())
}

func current(p *corev1alpha1.Pod) func(Gomega) *corev1alpha1.Pod {
	return func(g Gomega) *corev1alpha1.Pod {
		got := &corev1alpha1.Pod{}
		g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(p), got)).To(Succeed())
		return got
	}
}

// letGo removes the test's finalizer, and waits until the pod is gone.
func letGo(p *corev1alpha1.Pod) {
	got := current(p)(Default)
	orig := got.DeepCopy()
	controllerutil.RemoveFinalizer(got, hold)
	ExpectWithOffset(1, k8s.Patch(ctx, got, client.MergeFrom(orig))).To(Succeed())
	EventuallyWithOffset(1, func() error { return k8s.Get(ctx, client.ObjectKeyFromObject(p), &corev1alpha1.Pod{}) }).Should(Satisfy(func(err error) bool {
		return client.IgnoreNotFound(err) == nil && err != nil
	}))
}

func newNamespace() string {
	ns, err := env.NewNamespace(ctx, "podgc")
	ExpectWithOffset(1, err).NotTo(HaveOccurred())
	return ns
}

var collectedFailed = And(
	HaveField("Status.Phase", corev1.PodFailed),
	HaveField("Status.Conditions", ContainElement(And(HaveField("Type", corev1.DisruptionTarget), HaveField("Status", corev1.ConditionTrue),
		HaveField("Reason", podgc.ReasonDeletionByPodGC)))),
	HaveField("Finalizers", Not(ContainElement(corev1alpha1.NodeAgentFinalizer))))

// Ordered: the terminated-pod threshold counts the pods of every namespace.
var _ = Describe("The pod garbage collector", Ordered, func() {
	It("deletes the oldest terminated pods beyond --terminated-pod-gc-threshold, and never a running one", func() {
		ns := newNamespace()
		_, err := testenv.RegisterReadyNode(ctx, k8s, "gc-up", "4", nil)
		Expect(err).NotTo(HaveOccurred())
		running := boundPod(ns, "running", "gc-up", hold)
		var done []*corev1alpha1.Pod
		// Created in order: the oldest have the lowest names too, for pods of one second.
		for i := range threshold + 2 {
			p := boundPod(ns, fmt.Sprintf("done-%d", i), "gc-up", hold)
			setPhase(p, corev1.PodSucceeded)
			done = append(done, p)
		}
		Eventually(func(g Gomega) {
			for i, p := range done {
				deleting := current(p)(g).DeletionTimestamp != nil
				g.Expect(deleting).To(Equal(i < 2), p.Name)
			}
		}).Should(Succeed())
		Expect(current(running)(Default).DeletionTimestamp).To(BeNil())
		Expect(current(done[0])(Default).Finalizers).To(ContainElement(corev1alpha1.NodeAgentFinalizer), "the node's agent, alive, lets its pod go itself")
		for _, p := range append(done, running) {
			Expect(k8s.Delete(ctx, p)).To(Succeed())
			got := current(p)(Default)
			orig := got.DeepCopy()
			got.Finalizers = []string{hold}
			Expect(k8s.Patch(ctx, got, client.MergeFrom(orig))).To(Succeed())
			letGo(p)
		}
	})

	It("fails, releases and deletes the pods of a deleted node once it has been gone for the quarantine", func() {
		ns := newNamespace()
		node, err := testenv.RegisterReadyNode(ctx, k8s, "gc-lost", "4", nil)
		Expect(err).NotTo(HaveOccurred())
		p := boundPod(ns, "orphan", "gc-lost", hold)
		Expect(k8s.Delete(ctx, node)).To(Succeed())
		Eventually(current(p)).Should(And(collectedFailed, HaveField("DeletionTimestamp", Not(BeNil()))))
		Expect(current(p)(Default).Status.Conditions).To(ContainElement(HaveField("Message", "PodGC: node no longer exists")))
		letGo(p)
	})

	It("releases pods being deleted on a NotReady node tainted out-of-service, and no others", func() {
		ns := newNamespace()
		for _, name := range []string{"gc-down", "gc-oos"} {
			n, err := testenv.RegisterReadyNode(ctx, k8s, name, "4", nil)
			Expect(err).NotTo(HaveOccurred())
			orig := n.DeepCopy()
			n.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionUnknown, Reason: "NodeStatusUnknown"}}
			Expect(k8s.Status().Patch(ctx, n, client.MergeFrom(orig))).To(Succeed())
		}
		waits := boundPod(ns, "waits", "gc-down", hold)
		stuck := boundPod(ns, "stuck", "gc-oos", hold)
		// In this order: the pass that sees stuck's deletion has seen waits' too.
		Expect(k8s.Delete(ctx, waits)).To(Succeed())
		Expect(k8s.Delete(ctx, stuck)).To(Succeed())
		Consistently(current(stuck), "300ms").Should(HaveField("Finalizers", ContainElement(corev1alpha1.NodeAgentFinalizer)), "no taint yet")

		oos := &corev1alpha1.Node{}
		Expect(k8s.Get(ctx, client.ObjectKey{Name: "gc-oos"}, oos)).To(Succeed())
		orig := oos.DeepCopy()
		oos.Spec.Taints = append(oos.Spec.Taints, corev1.Taint{Key: podgc.OutOfServiceTaint, Value: "nodeshutdown", Effect: corev1.TaintEffectNoExecute})
		Expect(k8s.Patch(ctx, oos, client.MergeFrom(orig))).To(Succeed())
		Eventually(current(stuck)).Should(collectedFailed)
		Expect(current(stuck)(Default).Status.Conditions).To(ContainElement(HaveField("Message", "PodGC: node is out-of-service")))
		Expect(current(waits)(Default).Finalizers).To(ContainElement(corev1alpha1.NodeAgentFinalizer), "a NotReady node without the taint may come back")
		letGo(stuck)
		got := current(waits)(Default)
		patched := got.DeepCopy()
		patched.Finalizers = []string{hold}
		Expect(k8s.Patch(ctx, patched, client.MergeFrom(got))).To(Succeed())
		letGo(waits)
	})
})
