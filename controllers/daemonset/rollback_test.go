package daemonset_test

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	appsv1alpha1 "github.com/kybern/kybern/api/apps/v1alpha1"
	"github.com/kybern/kybern/test/testenv"
)

func rollbackOn(triggers *appsv1alpha1.RollbackTriggers) func(*appsv1alpha1.DaemonSet) {
	return func(ds *appsv1alpha1.DaemonSet) {
		ds.Spec.RollbackPolicy = &appsv1alpha1.RollbackPolicy{Triggers: triggers}
	}
}

// stableIs waits until ds records a stable revision, and returns it.
func stableIs(ds *appsv1alpha1.DaemonSet) string {
	var stable string
	EventuallyWithOffset(1, func(g Gomega) {
		st := statusOf(ds)(g).Rollback
		g.Expect(st).NotTo(BeNil())
		g.Expect(st.StableRevision).NotTo(BeEmpty())
		stable = st.StableRevision
	}).Should(Succeed())
	return stable
}

func keyOf(ds *appsv1alpha1.DaemonSet) client.ObjectKey { return client.ObjectKeyFromObject(ds) }

// revisionNames lists the ControllerRevisions ds controls.
func revisionNames(ds *appsv1alpha1.DaemonSet) []string {
	cur := &appsv1alpha1.DaemonSet{}
	ExpectWithOffset(1, k8s.Get(ctx, keyOf(ds), cur)).To(Succeed())
	var names []string
	for _, r := range revisionsOf(ds) {
		if metav1.IsControlledBy(&r, cur) {
			names = append(names, r.Name)
		}
	}
	return names
}

func rolledBack(reason string, mentions ...string) OmegaMatcher {
	ms := []OmegaMatcher{HaveField("Type", BeEquivalentTo(appsv1alpha1.RolledBack)), HaveField("Status", corev1.ConditionTrue), HaveField("Reason", reason)}
	for _, m := range mentions {
		ms = append(ms, HaveField("Message", ContainSubstring(m)))
	}
	return HaveField("Conditions", ContainElement(And(ms...)))
}

var _ = Describe("Automatic rollback of a DaemonSet", func() {
	var ns string
	BeforeEach(func() { ns = newNamespace() })

	It("rolls a crash-looping update back to the stable revision within maxSurge, leaving spec.template as written, then rolls out the next template", func() {
		ds := rollingDS(ns, "crash", 1, 0)
		rollbackOn(&appsv1alpha1.RollbackTriggers{CrashLoop: &appsv1alpha1.CrashLoopTrigger{}})(ds)
		ds.Spec.RevisionHistoryLimit = ptr.To[int32](0)
		nodes := runOn(ns, ds, "a", "b", "c")
		stable := stableIs(ds)

		w := watchRollout(ds, nodes)
		patchDS(ds, setImage(testenv.CrashLoopImage))
		Eventually(statusOf(ds)).Should(rolledBack(appsv1alpha1.RollbackReasonCrashLoop, stable, "restarted 5 times"))
		Eventually(allOnImage(ds, nodes, "busybox:1")).Should(Succeed())
		missing, double := w.Stop()
		Expect(missing).To(BeZero(), "a node lost its ready pod, with maxUnavailable 0")
		Expect(double).To(BeNumerically("<=", 1), "more than maxSurge nodes ran two pods at once")

		st := statusOf(ds)(Default)
		Expect(st.Rollback.StableRevision).To(Equal(stable))
		failed := st.Rollback.FailedRevision
		Expect(failed).NotTo(BeEmpty())
		Expect(st.UpdatedNumberScheduled).To(BeEquivalentTo(3), "the stable revision's pods count as updated while the rollback holds")
		Expect(testenv.EventsOf(ctx, k8s, ds, "DaemonSet")()).To(ContainElement(And(
			HaveField("Reason", appsv1alpha1.RolledBack), HaveField("Message", ContainSubstring(failed)))))
		cur := &appsv1alpha1.DaemonSet{}
		Expect(k8s.Get(ctx, keyOf(ds), cur)).To(Succeed())
		Expect(cur.Spec.Template.Spec.Containers[0].Image).To(Equal(testenv.CrashLoopImage), "spec.template was rewritten")
		Expect(revisionNames(ds)).To(ContainElements(stable, failed), "history cleanup took a revision the rollback holds")

		By("a new template, which rolls out as usual and ends the rollback")
		patchDS(ds, setImage("busybox:2"))
		Eventually(allOnImage(ds, nodes, "busybox:2")).Should(Succeed())
		Eventually(statusOf(ds)).ShouldNot(HaveField("Conditions", ContainElement(HaveField("Type", BeEquivalentTo(appsv1alpha1.RolledBack)))))
		Eventually(func(g Gomega) {
			st := statusOf(ds)(g)
			g.Expect(st.Rollback).NotTo(BeNil())
			g.Expect(st.Rollback.FailedRevision).To(BeEmpty())
			g.Expect(st.Rollback.StableRevision).NotTo(BeElementOf(stable, failed))
		}).Should(Succeed())
	})

	It("rolls back an update whose pods stay unready past triggers.notReady.seconds", func() {
		ds := rollingDS(ns, "unready", 0, 1)
		rollbackOn(&appsv1alpha1.RollbackTriggers{NotReady: &appsv1alpha1.NotReadyTrigger{Seconds: ptr.To[int32](2)}})(ds)
		nodes := runOn(ns, ds, "a", "b", "c")
		stable := stableIs(ds)

		w := watchRollout(ds, nodes)
		patchDS(ds, setImage(neverReady))
		Eventually(statusOf(ds)).Should(rolledBack(appsv1alpha1.RollbackReasonNotReady, stable, "has not been ready"))
		Eventually(allOnImage(ds, nodes, "busybox:1")).Should(Succeed())
		missing, _ := w.Stop()
		Expect(missing).To(BeNumerically("<=", 1), "more than maxUnavailable nodes lacked a ready pod")
	})

	It("leaves a crash-looping update alone without a rollback policy, as upstream", func() {
		ds := rollingDS(ns, "upstream", 0, 1)
		runOn(ns, ds, "a", "b")
		patchDS(ds, setImage(testenv.CrashLoopImage))
		Eventually(statusOf(ds)).Should(And(HaveField("ObservedGeneration", Equal(ds.Generation)),
			HaveField("UpdatedNumberScheduled", BeEquivalentTo(1)), HaveField("NumberUnavailable", BeEquivalentTo(1))))
		st := statusOf(ds)(Default)
		Expect(st.Rollback).To(BeNil())
		Expect(st.Conditions).NotTo(ContainElement(HaveField("Type", BeEquivalentTo(appsv1alpha1.RolledBack))))
	})
})
