package statefulset_test

import (
	"slices"
	"sync"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/types"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	appsv1alpha1 "github.com/kybern/kybern/api/apps/v1alpha1"
	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
	"github.com/kybern/kybern/controllers/internal/history"
	"github.com/kybern/kybern/controllers/internal/podutil"
	"github.com/kybern/kybern/test/testenv"
)

var _ = Describe("Automatic rollback", func() {
	It("rolls a crash-looping update back to the stable revision, leaving spec.template as written", func() {
		ns := newNamespace()
		startKubelet(ns)
		set := newSet(ns, "crash", 3)
		set.Spec.RollbackPolicy = &appsv1alpha1.RollbackPolicy{}
		stable, failed := rollBack(set, testenv.CrashLoopImage, appsv1alpha1.RollbackReasonCrashLoop)

		Eventually(runsRevision(set, stable, "crash-0", "crash-1", "crash-2")).Should(Succeed())
		Expect(revisionImage(ns, failed)).To(Equal(testenv.CrashLoopImage))
		Expect(revisionImage(ns, stable)).To(Equal("busybox"))
		Eventually(testenv.EventsOf(ctx, k8s, set, "StatefulSet")).Should(ContainElement(And(
			HaveField("Type", corev1.EventTypeWarning), HaveField("Reason", appsv1alpha1.RolledBack),
			HaveField("Message", And(ContainSubstring(failed), ContainSubstring(stable), ContainSubstring("crash-2"))))))
		got := getSet(set)
		Expect(got.Spec.Template.Spec.Containers[0].Image).To(Equal(testenv.CrashLoopImage))
		Expect(got.Status.Rollback).To(Equal(&appsv1alpha1.RollbackStatus{StableRevision: stable, FailedRevision: failed}))
	})

	It("rolls back an update whose pod stays unready past triggers.notReady.seconds", func() {
		ns := newNamespace()
		startKubelet(ns)
		set := newSet(ns, "unready", 3)
		set.Spec.RollbackPolicy = &appsv1alpha1.RollbackPolicy{Triggers: &appsv1alpha1.RollbackTriggers{
			NotReady: &appsv1alpha1.NotReadyTrigger{Seconds: ptr.To[int32](2)}}}
		stable, _ := rollBack(set, neverReady, appsv1alpha1.RollbackReasonNotReady)
		Eventually(runsRevision(set, stable, "unready-0", "unready-1", "unready-2")).Should(Succeed())
		Expect(getSet(set).Spec.Template.Spec.Containers[0].Image).To(Equal(neverReady))
	})

	It("rolls back only the ordinals from the partition on, once more pods fail than maxFailedPods allows", func() {
		ns := newNamespace()
		startKubelet(ns)
		set := newSet(ns, "part", 4)
		set.Spec.PodManagementPolicy = appsv1.ParallelPodManagement
		set.Spec.UpdateStrategy = appsv1.StatefulSetUpdateStrategy{Type: appsv1.RollingUpdateStatefulSetStrategyType,
			RollingUpdate: &appsv1.RollingUpdateStatefulSetStrategy{Partition: ptr.To[int32](2), MaxUnavailable: ptr.To(intstr.FromInt32(2))}}
		set.Spec.RollbackPolicy = &appsv1alpha1.RollbackPolicy{MaxFailedPods: ptr.To(intstr.FromInt32(1))}
		Expect(k8s.Create(ctx, set)).To(Succeed())
		stable := stableRevision(set)
		below := map[string]corev1alpha1.Pod{"part-0": pods(ns)["part-0"], "part-1": pods(ns)["part-1"]}
		rec := record(ns)

		change(set, image(testenv.CrashLoopImage))
		failed := rolledBack(set, appsv1alpha1.RollbackReasonCrashLoop, stable)
		Eventually(runsRevision(set, stable, "part-0", "part-1", "part-2", "part-3")).Should(Succeed())
		deleted, _ := rec.Stop()
		Expect(deleted).To(ConsistOf("part-3", "part-2", "part-3", "part-2"), "each ordinal from the partition on rolled forward, then back")
		for name, before := range below {
			Expect(pods(ns)[name].UID).To(Equal(before.UID), name)
		}
		Expect(getSet(set).Status.Conditions).To(ContainElement(HaveField("Message", ContainSubstring(failed))))
	})

	It("does not try the failed revision again, across reconciles and with revisionHistoryLimit 0", func() {
		ns := newNamespace()
		startKubelet(ns)
		set := newSet(ns, "once", 3)
		set.Spec.RollbackPolicy = &appsv1alpha1.RollbackPolicy{}
		stable, failed := rollBack(set, testenv.CrashLoopImage, appsv1alpha1.RollbackReasonCrashLoop)
		Eventually(runsRevision(set, stable, "once-0", "once-1", "once-2")).Should(Succeed())

		added := watchAdded(ns)
		for _, limit := range []int32{1, 0} {
			change(set, func(s *appsv1alpha1.StatefulSet) { s.Spec.RevisionHistoryLimit = ptr.To(limit) })
			Eventually(observed(set)).Should(Succeed())
		}
		Eventually(runsRevision(set, stable, "once-0", "once-1", "once-2")).Should(Succeed())
		Expect(added()).NotTo(ContainElement(failed), "a pod of the failed revision was created after the rollback")
		Expect(revisionImage(ns, failed)).To(Equal(testenv.CrashLoopImage))
		Expect(revisionImage(ns, stable)).To(Equal("busybox"))
		s := getSet(set).Status
		Expect(s.Rollback).To(Equal(&appsv1alpha1.RollbackStatus{StableRevision: stable, FailedRevision: failed}))
		Expect(s.Conditions).To(ContainElement(rolledBackCondition(appsv1alpha1.RollbackReasonCrashLoop, failed, stable)))
	})

	It("rolls out a new template after a rollback as usual, and clears the RolledBack condition", func() {
		ns := newNamespace()
		startKubelet(ns)
		set := newSet(ns, "again", 3)
		set.Spec.RollbackPolicy = &appsv1alpha1.RollbackPolicy{}
		stable, failed := rollBack(set, testenv.CrashLoopImage, appsv1alpha1.RollbackReasonCrashLoop)
		Eventually(runsRevision(set, stable, "again-0", "again-1", "again-2")).Should(Succeed())

		change(set, image("busybox:2"))
		Eventually(allReadyOn(ns, "busybox:2", "again-0", "again-1", "again-2")).Should(Succeed())
		next := stableRevision(set)
		Expect(next).NotTo(BeElementOf(stable, failed))
		Eventually(runsRevision(set, next, "again-0", "again-1", "again-2")).Should(Succeed())
		s := getSet(set).Status
		Expect(s.Rollback).To(Equal(&appsv1alpha1.RollbackStatus{StableRevision: next}))
		Expect(s.Conditions).NotTo(ContainElement(HaveField("Type", BeEquivalentTo(appsv1alpha1.RolledBack))))
	})

	It("continues a rollback across a manager restart from what status holds", func() {
		ns := newNamespace()
		kubelet := testenv.StartKubelet(ctx, k8s, ns)
		DeferCleanup(kubelet.Stop)
		set := newSet(ns, "resume", 3)
		set.Spec.RollbackPolicy = &appsv1alpha1.RollbackPolicy{Triggers: &appsv1alpha1.RollbackTriggers{
			NotReady: &appsv1alpha1.NotReadyTrigger{Seconds: ptr.To[int32](2)}}}
		Expect(k8s.Create(ctx, set)).To(Succeed())
		stable := stableRevision(set)

		By("without a kubelet, the update's pod stays unready and so does the stable pod that replaces it")
		kubelet.Stop()
		change(set, image(neverReady))
		failed := rolledBack(set, appsv1alpha1.RollbackReasonNotReady, stable)
		var replaced corev1alpha1.Pod
		Eventually(func(g Gomega) {
			replaced = pods(ns)["resume-2"]
			g.Expect(replaced.Labels).To(HaveKeyWithValue(appsv1.ControllerRevisionHashLabelKey, stable))
			g.Expect(replaced.DeletionTimestamp).To(BeNil())
		}).Should(Succeed())
		Expect(podutil.IsReady(&replaced)).To(BeFalse())

		By("a new manager keeps to the stable revision: it neither replaces that pod nor makes one of the failed revision")
		rec := record(ns)
		added := watchAdded(ns)
		Expect(suite.RestartManager(nil)).To(Succeed())
		startKubelet(ns)
		Eventually(runsRevision(set, stable, "resume-0", "resume-1", "resume-2")).Should(Succeed())
		Expect(pods(ns)["resume-2"].UID).To(Equal(replaced.UID))
		deleted, _ := rec.Stop()
		Expect(deleted).To(BeEmpty())
		Expect(added()).NotTo(ContainElement(failed))
		Expect(getSet(set).Status.Rollback).To(Equal(&appsv1alpha1.RollbackStatus{StableRevision: stable, FailedRevision: failed}))
	})

	It("does not roll back without spec.rollbackPolicy", func() {
		ns := newNamespace()
		startKubelet(ns)
		set := newSet(ns, "plain", 3)
		Expect(k8s.Create(ctx, set)).To(Succeed())
		Eventually(allReadyOn(ns, "busybox", "plain-0", "plain-1", "plain-2")).Should(Succeed())
		Eventually(observed(set)).Should(Succeed())

		change(set, image(testenv.CrashLoopImage))
		var crashing corev1alpha1.Pod
		Eventually(func(g Gomega) {
			var ok bool
			crashing, ok = pods(ns)["plain-2"]
			g.Expect(ok).To(BeTrue())
			g.Expect(crashing.Spec.Containers[0].Image).To(Equal(testenv.CrashLoopImage))
			g.Expect(crashing.Status.ContainerStatuses).To(ContainElement(HaveField("RestartCount", BeEquivalentTo(testenv.CrashLoopRestarts))))
		}).Should(Succeed())
		By("a reconcile of a later generation still finds the crash-looping pod where it was")
		change(set, func(s *appsv1alpha1.StatefulSet) { s.Spec.RevisionHistoryLimit = ptr.To[int32](5) })
		Eventually(observed(set)).Should(Succeed())
		Expect(pods(ns)["plain-2"].UID).To(Equal(crashing.UID))
		s := getSet(set).Status
		Expect(s.UpdateRevision).To(Equal(crashing.Labels[appsv1.ControllerRevisionHashLabelKey]))
		Expect(s.Rollback).To(BeNil())
		Expect(s.Conditions).NotTo(ContainElement(HaveField("Type", BeEquivalentTo(appsv1alpha1.RolledBack))))
		Expect(testenv.EventsOf(ctx, k8s, set, "StatefulSet")()).NotTo(ContainElement(HaveField("Reason", appsv1alpha1.RolledBack)))
	})
})

// rollBack creates set, waits for its first rollout to be recorded as the stable revision,
// updates its first container to img, and waits for the rollback that follows, for reason.
func rollBack(set *appsv1alpha1.StatefulSet, img, reason string) (stable, failed string) {
	GinkgoHelper()
	Expect(k8s.Create(ctx, set)).To(Succeed())
	stable = stableRevision(set)
	change(set, image(img))
	return stable, rolledBack(set, reason, stable)
}

// stableRevision waits for set's status.rollback.stableRevision to name its update
// revision, and returns it.
func stableRevision(set *appsv1alpha1.StatefulSet) string {
	GinkgoHelper()
	var stable string
	Eventually(func(g Gomega) {
		s := getSet(set).Status
		g.Expect(s.Rollback).NotTo(BeNil())
		stable = s.Rollback.StableRevision
		g.Expect(stable).To(And(Not(BeEmpty()), Equal(s.UpdateRevision)))
	}).Should(Succeed())
	return stable
}

// rolledBack waits for set to roll back from a failed revision to stable, for reason, and
// returns the failed revision.
func rolledBack(set *appsv1alpha1.StatefulSet, reason, stable string) string {
	GinkgoHelper()
	var failed string
	Eventually(func(g Gomega) {
		s := getSet(set).Status
		g.Expect(s.Rollback).NotTo(BeNil())
		g.Expect(s.Rollback.StableRevision).To(Equal(stable))
		failed = s.Rollback.FailedRevision
		g.Expect(failed).NotTo(BeElementOf("", stable))
		g.Expect(s.Conditions).To(ContainElement(rolledBackCondition(reason, failed, stable)))
		g.Expect(s.UpdateRevision).To(Equal(stable))
	}).Should(Succeed())
	return failed
}

func rolledBackCondition(reason, failed, stable string) types.GomegaMatcher {
	return And(HaveField("Type", BeEquivalentTo(appsv1alpha1.RolledBack)), HaveField("Status", corev1.ConditionTrue),
		HaveField("Reason", reason), HaveField("Message", And(ContainSubstring(failed), ContainSubstring(stable))))
}

// runsRevision reports whether set has exactly the pods names, each Running and Ready at
// revision, and a status that says so.
func runsRevision(set *appsv1alpha1.StatefulSet, revision string, names ...string) func(Gomega) {
	return func(g Gomega) {
		ps := pods(set.Namespace)
		g.Expect(ps).To(HaveLen(len(names)))
		for _, n := range names {
			p, ok := ps[n]
			g.Expect(ok).To(BeTrue(), n)
			g.Expect(p.Labels).To(HaveKeyWithValue(appsv1.ControllerRevisionHashLabelKey, revision), n)
			g.Expect(p.DeletionTimestamp).To(BeNil(), n)
			g.Expect(p.Status.Phase).To(Equal(corev1.PodRunning), n)
			g.Expect(podutil.IsReady(&p)).To(BeTrue(), n)
		}
		s := getSet(set).Status
		g.Expect(s.CurrentRevision).To(Equal(revision))
		g.Expect(s.UpdateRevision).To(Equal(revision))
		g.Expect(s.ReadyReplicas).To(BeEquivalentTo(len(names)))
		g.Expect(s.UpdatedReplicas).To(BeEquivalentTo(len(names)))
	}
}

// observed reports whether set's status is of its current generation.
func observed(set *appsv1alpha1.StatefulSet) func(Gomega) {
	return func(g Gomega) {
		got := getSet(set)
		g.Expect(got.Status.ObservedGeneration).To(Equal(got.Generation))
	}
}

// revisionImage is the first container image of the ControllerRevision name of ns.
func revisionImage(ns, name string) string {
	GinkgoHelper()
	rev := &appsv1.ControllerRevision{}
	Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, rev)).To(Succeed())
	t, err := history.Template(rev)
	Expect(err).NotTo(HaveOccurred())
	return t.Spec.Containers[0].Image
}

// watchAdded watches the pods of ns until the spec ends and returns the revisions of the
// pods it saw added so far: those there when it started, then every one created.
func watchAdded(ns string) func() []string {
	GinkgoHelper()
	watcher, err := client.NewWithWatch(env.Config, client.Options{Scheme: k8s.Scheme()})
	Expect(err).NotTo(HaveOccurred())
	w, err := watcher.Watch(ctx, &corev1alpha1.PodList{}, client.InNamespace(ns))
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(w.Stop)
	var mu sync.Mutex
	var revisions []string
	go func() {
		for e := range w.ResultChan() {
			if p, ok := e.Object.(*corev1alpha1.Pod); ok && e.Type == watch.Added {
				mu.Lock()
				revisions = append(revisions, p.Labels[appsv1.ControllerRevisionHashLabelKey])
				mu.Unlock()
			}
		}
	}()
	return func() []string {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(revisions)
	}
}
