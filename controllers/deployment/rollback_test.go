package deployment_test

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/types"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	appsv1alpha1 "github.com/kybern/kybern/api/apps/v1alpha1"
	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
	"github.com/kybern/kybern/controllers/deployment"
	"github.com/kybern/kybern/test/testenv"
)

// rsOfImage is the name of d's ReplicaSet whose pods run image, or "".
func rsOfImage(d *appsv1alpha1.Deployment, image string) string {
	for name, rs := range replicaSetsOf(d) {
		if rs.Spec.Template.Spec.Containers[0].Image == image {
			return name
		}
	}
	return ""
}

func rolledBackCondition(reason string, mentions ...string) types.GomegaMatcher {
	matchers := []types.GomegaMatcher{HaveField("Type", deployment.RolledBackCondition), HaveField("Status", corev1.ConditionTrue), HaveField("Reason", reason)}
	for _, m := range mentions {
		matchers = append(matchers, HaveField("Message", ContainSubstring(m)))
	}
	return ContainElement(And(matchers...))
}

func conditionsOf(d *appsv1alpha1.Deployment) func(Gomega) []appsv1.DeploymentCondition {
	return func(g Gomega) []appsv1.DeploymentCondition {
		cur := &appsv1alpha1.Deployment{}
		g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(d), cur)).To(Succeed())
		return cur.Status.Conditions
	}
}

// allPodsRun waits until every active pod in ns runs image and is ready, n in all.
func allPodsRun(ns, image string, n int) func(Gomega) {
	return func(g Gomega) {
		var pods corev1alpha1.PodList
		g.Expect(k8s.List(ctx, &pods, client.InNamespace(ns))).To(Succeed())
		var running int
		for i := range pods.Items {
			p := &pods.Items[i]
			if p.DeletionTimestamp != nil {
				continue
			}
			g.Expect(p.Spec.Containers[0].Image).To(Equal(image), "pod %s", p.Name)
			running++
		}
		g.Expect(running).To(Equal(n))
		total, ready := podCounts(ns)
		g.Expect(total).To(Equal(n))
		g.Expect(ready).To(Equal(n))
	}
}

// observed waits until the controller has acted on d's current generation.
func observed(d *appsv1alpha1.Deployment) func(Gomega) {
	return func(g Gomega) {
		cur := &appsv1alpha1.Deployment{}
		g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(d), cur)).To(Succeed())
		g.Expect(cur.Status.ObservedGeneration).To(Equal(cur.Generation))
	}
}

// poke changes minReadySeconds: a new generation that is no scaling event, so the
// controller's next status write proves it judged the rollout again.
func poke(d *appsv1alpha1.Deployment) {
	update(d, func(cur *appsv1alpha1.Deployment) { cur.Spec.MinReadySeconds++ })
	EventuallyWithOffset(1, observed(d)).Should(Succeed())
}

var _ = Describe("Automatic rollback of a Deployment", func() {
	var (
		ns string
		kl *kubelet
	)
	BeforeEach(func() {
		ns = newNamespace()
		kl = startKubelet(ns)
		DeferCleanup(kl.Stop)
	})

	It("rolls a crash-looping rollout back within maxSurge and maxUnavailable, keeps spec.template, survives a manager restart, and rolls out the next template", func() {
		d := newDeployment(ns, "web", 4)
		rollingUpdate(d, 1, 1)
		d.Spec.RevisionHistoryLimit = ptr.To[int32](0)
		d.Spec.RollbackPolicy = &appsv1alpha1.RollbackPolicy{Triggers: &appsv1alpha1.RollbackTriggers{CrashLoop: &appsv1alpha1.CrashLoopTrigger{}}}
		Expect(k8s.Create(ctx, d)).To(Succeed())
		Eventually(rolledOut(d, 4)).Should(Succeed())
		stable := rsOfImage(d, "busybox:1")
		Eventually(func() string { return ptr.Deref(get(d).Status.Rollback, appsv1alpha1.RollbackStatus{}).StableRevision }).Should(Equal(stable))

		s := sample(ns)
		update(d, setImage(testenv.CrashLoopImage))
		generation := get(d).Generation
		Eventually(conditionsOf(d)).Should(rolledBackCondition(appsv1alpha1.RollbackReasonCrashLoop, stable, "restarted 5 times"))
		failed := rsOfImage(d, testenv.CrashLoopImage)
		Expect(failed).NotTo(BeEmpty())

		By("restarting the manager while the rollback holds")
		Expect(suite.RestartManager(nil)).To(Succeed())
		Eventually(rolledOut(d, 4)).Should(Succeed())
		Eventually(allPodsRun(ns, "busybox:1", 4)).Should(Succeed())
		s.Stop()
		Expect(s.maxTotal.Load()).To(BeNumerically("<=", 5), "more pods than replicas + maxSurge at some moment")
		Expect(s.minReady.Load()).To(BeNumerically(">=", 3), "fewer ready pods than replicas - maxUnavailable at some moment")

		cur := get(d)
		Expect(cur.Generation).To(Equal(generation), "the controller wrote spec")
		Expect(cur.Spec.Template.Spec.Containers[0].Image).To(Equal(testenv.CrashLoopImage))
		Expect(cur.Status.Rollback).To(Equal(&appsv1alpha1.RollbackStatus{StableRevision: stable, FailedRevision: failed}))
		Expect(testenv.EventsOf(ctx, k8s, d, "Deployment")()).To(ContainElement(And(
			HaveField("Type", corev1.EventTypeWarning), HaveField("Reason", appsv1alpha1.RolledBack), HaveField("Message", ContainSubstring(failed)))))
		Expect(replicaSetsOf(d)).To(HaveKey(failed), "revisionHistoryLimit 0 deleted the failed revision a rollback holds")

		By("scaling while the rollback holds: the failed revision gets no pods")
		update(d, func(cur *appsv1alpha1.Deployment) { cur.Spec.Replicas = ptr.To[int32](5) })
		Eventually(rolledOut(d, 5)).Should(Succeed())
		Eventually(allPodsRun(ns, "busybox:1", 5)).Should(Succeed())
		poke(d)
		Expect(*replicaSetsOf(d)[failed].Spec.Replicas).To(BeZero())

		By("a new template, which rolls out as usual and ends the rollback")
		update(d, setImage("busybox:2"))
		Eventually(rolledOut(d, 5)).Should(Succeed())
		Eventually(allPodsRun(ns, "busybox:2", 5)).Should(Succeed())
		Eventually(conditionsOf(d)).ShouldNot(ContainElement(HaveField("Type", deployment.RolledBackCondition)))
		next := rsOfImage(d, "busybox:2")
		Eventually(func() *appsv1alpha1.RollbackStatus { return get(d).Status.Rollback }).Should(Equal(&appsv1alpha1.RollbackStatus{StableRevision: next}))
		Eventually(func() []string {
			var names []string
			for name := range replicaSetsOf(d) {
				names = append(names, name)
			}
			return names
		}).Should(ConsistOf(next), "the old revisions outlived revisionHistoryLimit 0 after the rollback ended")
	})

	It("rolls back once more pods stay unready than maxFailedPods allows, and not before", func() {
		d := newDeployment(ns, "budget", 4)
		rollingUpdate(d, 4, 0)
		d.Spec.RollbackPolicy = &appsv1alpha1.RollbackPolicy{
			Triggers:      &appsv1alpha1.RollbackTriggers{NotReady: &appsv1alpha1.NotReadyTrigger{Seconds: ptr.To[int32](5)}},
			MaxFailedPods: ptr.To(intstr.FromString("25%")),
		}
		Expect(k8s.Create(ctx, d)).To(Succeed())
		Eventually(rolledOut(d, 4)).Should(Succeed())
		stable := rsOfImage(d, "busybox:1")
		Eventually(func() string { return ptr.Deref(get(d).Status.Rollback, appsv1alpha1.RollbackStatus{}).StableRevision }).Should(Equal(stable))

		update(d, setImage(neverReady))
		var newPods []corev1alpha1.Pod
		Eventually(func(g Gomega) {
			var pods corev1alpha1.PodList
			g.Expect(k8s.List(ctx, &pods, client.InNamespace(ns))).To(Succeed())
			newPods = nil
			for _, p := range pods.Items {
				if p.Spec.Containers[0].Image == neverReady {
					newPods = append(newPods, p)
				}
			}
			g.Expect(newPods).To(HaveLen(4))
		}).Should(Succeed())
		By("making 3 of the 4 new pods ready: 1 failing is within 25 %")
		for i := range newPods[:3] {
			Eventually(func() error {
				p := &corev1alpha1.Pod{}
				if err := k8s.Get(ctx, client.ObjectKeyFromObject(&newPods[i]), p); err != nil {
					return err
				}
				return testenv.MarkReady(ctx, k8s, p)
			}).Should(Succeed())
		}
		next := rsOfImage(d, neverReady)
		Eventually(func() int32 { return replicaSetsOf(d)[next].Status.ReadyReplicas }).Should(Equal(int32(3)))
		// The one unready pod must be past the threshold when the controller judges.
		unready := newPods[3]
		Eventually(time.Now).Should(BeTemporally(">", unready.CreationTimestamp.Add(6*time.Second)))
		poke(d)
		Expect(conditionsOf(d)(Default)).NotTo(ContainElement(HaveField("Type", deployment.RolledBackCondition)))
		Expect(get(d).Status.Rollback.FailedRevision).To(BeEmpty())

		By("turning a second new pod unready: 2 failing is more than 25 %")
		Eventually(func() error {
			p := &corev1alpha1.Pod{}
			if err := k8s.Get(ctx, client.ObjectKeyFromObject(&newPods[0]), p); err != nil {
				return err
			}
			orig := p.DeepCopy()
			p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionFalse, LastTransitionTime: metav1.Now()}}
			return k8s.Status().Patch(ctx, p, client.MergeFromWithOptions(orig, client.MergeFromWithOptimisticLock{}))
		}).Should(Succeed())
		Eventually(conditionsOf(d)).Should(rolledBackCondition(appsv1alpha1.RollbackReasonNotReady, "2 of 4 pods failing", "has not been ready"))
		Eventually(allPodsRun(ns, "busybox:1", 4)).Should(Succeed())
	})

	It("rolls back a rollout past its progress deadline", func() {
		d := newDeployment(ns, "deadline", 3)
		rollingUpdate(d, 1, 0)
		d.Spec.ProgressDeadlineSeconds = ptr.To[int32](2)
		d.Spec.RollbackPolicy = &appsv1alpha1.RollbackPolicy{Triggers: &appsv1alpha1.RollbackTriggers{ProgressDeadline: &appsv1alpha1.ProgressDeadlineTrigger{}}}
		Expect(k8s.Create(ctx, d)).To(Succeed())
		Eventually(rolledOut(d, 3)).Should(Succeed())
		stable := rsOfImage(d, "busybox:1")
		Eventually(func() string { return ptr.Deref(get(d).Status.Rollback, appsv1alpha1.RollbackStatus{}).StableRevision }).Should(Equal(stable))

		update(d, setImage(neverReady))
		Eventually(conditionsOf(d)).Should(rolledBackCondition(appsv1alpha1.RollbackReasonProgressDeadline, stable, "spec.progressDeadlineSeconds (2s)"))
		Eventually(rolledOut(d, 3)).Should(Succeed())
		Eventually(allPodsRun(ns, "busybox:1", 3)).Should(Succeed())
		Expect(get(d).Spec.Template.Spec.Containers[0].Image).To(Equal(neverReady))
	})

	It("leaves a crash-looping rollout alone without a rollback policy, as upstream", func() {
		d := newDeployment(ns, "upstream", 2)
		rollingUpdate(d, 1, 0)
		Expect(k8s.Create(ctx, d)).To(Succeed())
		Eventually(rolledOut(d, 2)).Should(Succeed())
		update(d, setImage(testenv.CrashLoopImage))
		Eventually(func(g Gomega) {
			var pods corev1alpha1.PodList
			g.Expect(k8s.List(ctx, &pods, client.InNamespace(ns))).To(Succeed())
			g.Expect(pods.Items).To(ContainElement(HaveField("Status.ContainerStatuses", ContainElement(HaveField("RestartCount", BeNumerically(">=", 3))))))
		}).Should(Succeed())
		poke(d)
		cur := get(d)
		Expect(cur.Status.Conditions).NotTo(ContainElement(HaveField("Type", deployment.RolledBackCondition)))
		Expect(cur.Status.Rollback).To(BeNil())
		Expect(cur.Status.UpdatedReplicas).To(BeNumerically(">=", 1))
	})
})
