package e2e

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
)

var _ = Describe("A NoExecute taint on a node with real containers", Ordered, func() {
	var ns string
	BeforeAll(func() {
		startAgent("e2e-a")
		var err error
		ns, err = env.NewNamespace(ctx, "e2e-taint")
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(func() { deletePodsIn(ns) })
	})

	It("evicts the pods that do not tolerate it, those that tolerate it for a while once that runs out, and keeps the others", func() {
		taint := corev1.Taint{Key: "e2e.kybern.io/drain", Value: "now", Effect: corev1.TaintEffectNoExecute}
		pod := func(name string, tolerations ...corev1.Toleration) *corev1alpha1.Pod {
			p := newPod(ns, name, corev1.RestartPolicyAlways, "sleep", "3600")
			p.Spec.TerminationGracePeriodSeconds = ptr.To[int64](1)
			p.Spec.Tolerations = tolerations
			Expect(k8s.Create(ctx, p)).To(Succeed())
			return p
		}
		tolerate := func(seconds *int64) corev1.Toleration {
			return corev1.Toleration{Key: taint.Key, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: seconds}
		}
		intolerant, brief, tolerant := pod("intolerant"), pod("brief", tolerate(ptr.To[int64](3))), pod("tolerant", tolerate(nil))
		for _, p := range []*corev1alpha1.Pod{intolerant, brief, tolerant} {
			Eventually(current(p)).Should(HaveField("Status.Phase", corev1.PodRunning))
		}

		setTaints := func(change func([]corev1.Taint) []corev1.Taint) {
			Eventually(func() error {
				node := &corev1alpha1.Node{}
				if err := k8s.Get(ctx, client.ObjectKey{Name: "e2e-a"}, node); err != nil {
					return err
				}
				node.Spec.Taints = change(node.Spec.Taints)
				return k8s.Update(ctx, node)
			}).Should(Succeed())
		}
		setTaints(func(ts []corev1.Taint) []corev1.Taint { return append(ts, taint) })
		DeferCleanup(func() {
			setTaints(func(ts []corev1.Taint) []corev1.Taint {
				var kept []corev1.Taint
				for _, t := range ts {
					if t.Key != taint.Key {
						kept = append(kept, t)
					}
				}
				return kept
			})
		})

		gone := func(p *corev1alpha1.Pod) func() bool {
			return func() bool {
				return apierrors.IsNotFound(k8s.Get(ctx, client.ObjectKeyFromObject(p), &corev1alpha1.Pod{}))
			}
		}
		By("seeing the pod without a toleration evicted, its container stopped and the pod removed by the agent")
		Eventually(gone(intolerant)).Should(BeTrue())
		By("seeing the pod that tolerates the taint for 3 s evicted after it")
		Eventually(gone(brief)).Should(BeTrue())
		node := &corev1alpha1.Node{}
		Expect(k8s.Get(ctx, client.ObjectKey{Name: "e2e-a"}, node)).To(Succeed())
		Expect(node.Spec.Taints).To(ContainElement(And(HaveField("Key", taint.Key), HaveField("TimeAdded", Not(BeNil())))),
			"the taint is given the time it was added")
		Expect(current(tolerant)()).To(And(HaveField("Status.Phase", corev1.PodRunning), HaveField("DeletionTimestamp", BeNil())),
			"a pod that tolerates the taint without a limit stays")
	})
})
