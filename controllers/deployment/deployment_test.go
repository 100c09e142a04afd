package deployment_test

import (
	"fmt"
	"sync"
	"sync/atomic"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	appsv1alpha1 "github.com/kybern/kybern/api/apps/v1alpha1"
	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
	"github.com/kybern/kybern/controllers/deployment"
	"github.com/kybern/kybern/controllers/internal/podutil"
	"github.com/kybern/kybern/controllers/internal/specvalidation"
	"github.com/kybern/kybern/test/testenv"
)

func newDeployment(ns, name string, replicas int32) *appsv1alpha1.Deployment {
	d := &appsv1alpha1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
	d.Spec.Replicas = ptr.To(replicas)
	d.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}}
	d.Spec.Template.Labels = map[string]string{"app": name}
	d.Spec.Template.Spec.Containers = []corev1.Container{{Name: "web", Image: "busybox:1"}}
	return d
}

func rollingUpdate(d *appsv1alpha1.Deployment, surge, unavailable int32) {
	d.Spec.Strategy = appsv1.DeploymentStrategy{Type: appsv1.RollingUpdateDeploymentStrategyType,
		RollingUpdate: &appsv1.RollingUpdateDeployment{MaxSurge: ptr.To(intstr.FromInt32(surge)), MaxUnavailable: ptr.To(intstr.FromInt32(unavailable))}}
}

func get(d *appsv1alpha1.Deployment) *appsv1alpha1.Deployment {
	got := &appsv1alpha1.Deployment{}
	ExpectWithOffset(1, k8s.Get(ctx, client.ObjectKeyFromObject(d), got)).To(Succeed())
	return got
}

func update(d *appsv1alpha1.Deployment, change func(*appsv1alpha1.Deployment)) {
	EventuallyWithOffset(1, func() error {
		cur := get(d)
		change(cur)
		return k8s.Update(ctx, cur)
	}).Should(Succeed())
}

func setImage(image string) func(*appsv1alpha1.Deployment) {
	return func(d *appsv1alpha1.Deployment) { d.Spec.Template.Spec.Containers[0].Image = image }
}

// replicaSetsOf lists d's ReplicaSets by name.
func replicaSetsOf(d *appsv1alpha1.Deployment) map[string]appsv1alpha1.ReplicaSet {
	var list appsv1alpha1.ReplicaSetList
	ExpectWithOffset(1, k8s.List(ctx, &list, client.InNamespace(d.Namespace))).To(Succeed())
	cur := get(d)
	out := map[string]appsv1alpha1.ReplicaSet{}
	for _, rs := range list.Items {
		if metav1.IsControlledBy(&rs, cur) {
			out[rs.Name] = rs
		}
	}
	return out
}

// podCounts counts d's active pods and, of those, the ready ones.
func podCounts(ns string) (total, ready int) {
	var pods corev1alpha1.PodList
	ExpectWithOffset(1, k8s.List(ctx, &pods, client.InNamespace(ns))).To(Succeed())
	for i := range pods.Items {
		p := &pods.Items[i]
		if podutil.IsActive(p) {
			total++
			if podutil.IsReady(p) {
				ready++
			}
		}
	}
	return total, ready
}

func rolledOut(d *appsv1alpha1.Deployment, replicas int32) func(Gomega) {
	return func(g Gomega) {
		cur := &appsv1alpha1.Deployment{}
		g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(d), cur)).To(Succeed())
		g.Expect(cur.Status.ObservedGeneration).To(Equal(cur.Generation))
		g.Expect(cur.Status.UpdatedReplicas).To(Equal(replicas))
		g.Expect(cur.Status.Replicas).To(Equal(replicas))
		g.Expect(cur.Status.AvailableReplicas).To(Equal(replicas))
		g.Expect(cur.Status.Conditions).To(ContainElement(And(
			HaveField("Type", appsv1.DeploymentProgressing), HaveField("Reason", deployment.NewRSAvailableReason))))
	}
}

// sampler watches a namespace's pods until stopped and keeps the extremes it saw.
type sampler struct {
	stop               chan struct{}
	done               sync.WaitGroup
	maxTotal, minReady atomic.Int64
	samples            atomic.Int64
}

func sample(ns string) *sampler {
	s := &sampler{stop: make(chan struct{})}
	s.minReady.Store(1 << 30)
	s.done.Go(func() {
		defer GinkgoRecover()
		for {
			select {
			case <-s.stop:
				return
			default:
			}
			total, ready := podCounts(ns)
			if int64(total) > s.maxTotal.Load() {
				s.maxTotal.Store(int64(total))
			}
			if int64(ready) < s.minReady.Load() {
				s.minReady.Store(int64(ready))
			}
			s.samples.Add(1)
		}
	})
	return s
}

func (s *sampler) Stop() {
	close(s.stop)
	s.done.Wait()
}

var _ = Describe("The Deployment controller", func() {
	var (
		ns string
		kl *kubelet
	)
	BeforeEach(func() {
		ns = newNamespace()
		kl = startKubelet(ns)
		DeferCleanup(kl.Stop)
	})

	It("acts on no Deployment upstream's validation refuses, one stored past admission: it says why, and makes no ReplicaSet", func() {
		d := newDeployment(ns, "malformed", 2)
		d.Spec.Strategy = appsv1.DeploymentStrategy{Type: appsv1.RollingUpdateDeploymentStrategyType,
			RollingUpdate: &appsv1.RollingUpdateDeployment{MaxSurge: ptr.To(intstr.FromString("abc%"))}}
		Expect(k8s.Create(ctx, d)).To(Succeed())
		Eventually(testenv.EventsOf(ctx, k8s, d, "Deployment")).Should(ContainElement(And(HaveField("Reason", specvalidation.ReasonInvalidSpec),
			HaveField("Message", ContainSubstring("spec.strategy.rollingUpdate.maxSurge")))))
		invalidSpec := And(HaveField("Type", appsv1.DeploymentReplicaFailure), HaveField("Reason", specvalidation.ReasonInvalidSpec))
		conditions := func(g Gomega) []appsv1.DeploymentCondition {
			got := &appsv1alpha1.Deployment{}
			g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(d), got)).To(Succeed())
			return got.Status.Conditions
		}
		Eventually(conditions).Should(ContainElement(invalidSpec))
		var sets appsv1alpha1.ReplicaSetList
		Expect(k8s.List(ctx, &sets, client.InNamespace(ns))).To(Succeed())
		Expect(sets.Items).To(BeEmpty())

		By("fixing maxSurge, which the controller then acts on")
		Expect(k8s.Get(ctx, client.ObjectKeyFromObject(d), d)).To(Succeed())
		d.Spec.Strategy.RollingUpdate.MaxSurge = ptr.To(intstr.FromString("25%"))
		Expect(k8s.Update(ctx, d)).To(Succeed())
		Eventually(rolledOut(d, 2)).Should(Succeed())
		Eventually(conditions).ShouldNot(ContainElement(invalidSpec))
	})

	It("rolls out 10 replicas through a ReplicaSet named after the template hash", func() {
		d := newDeployment(ns, "web", 10)
		Expect(k8s.Create(ctx, d)).To(Succeed())
		Eventually(rolledOut(d, 10)).Should(Succeed())

		cur := get(d)
		Expect(cur.Annotations).To(HaveKeyWithValue(deployment.RevisionAnnotation, "1"))
		Expect(cur.Status.Conditions).To(ContainElement(And(HaveField("Type", appsv1.DeploymentAvailable), HaveField("Status", corev1.ConditionTrue))))
		Expect(cur.Status.LabelSelector).To(Equal("app=web"))
		rss := replicaSetsOf(d)
		Expect(rss).To(HaveLen(1))
		for name, rs := range rss {
			hash := rs.Labels[deployment.PodTemplateHashLabel]
			Expect(hash).NotTo(BeEmpty())
			Expect(name).To(Equal("web-" + hash))
			Expect(rs.Spec.Selector.MatchLabels).To(HaveKeyWithValue(deployment.PodTemplateHashLabel, hash))
			Expect(rs.Annotations).To(HaveKeyWithValue(deployment.RevisionAnnotation, "1"))
			Expect(rs.Annotations).To(HaveKeyWithValue(deployment.DesiredReplicasAnnotation, "10"))
			Expect(rs.Annotations).To(HaveKeyWithValue(deployment.MaxReplicasAnnotation, "13"))
		}
	})

	It("keeps availability and surge within bounds at every moment of a rolling update, then rolls back to the old ReplicaSet", func() {
		d := newDeployment(ns, "roll", 10)
		rollingUpdate(d, 3, 2)
		Expect(k8s.Create(ctx, d)).To(Succeed())
		Eventually(rolledOut(d, 10)).Should(Succeed())
		first := replicaSetsOf(d)

		s := sample(ns)
		update(d, setImage("busybox:2"))
		Eventually(rolledOut(d, 10)).Should(Succeed())
		s.Stop()
		AddReportEntry("rolling update extremes", fmt.Sprintf("samples=%d maxPods=%d minReady=%d", s.samples.Load(), s.maxTotal.Load(), s.minReady.Load()))
		Expect(s.samples.Load()).To(BeNumerically(">", 20), "too few samples to judge the rollout")
		Expect(s.maxTotal.Load()).To(BeNumerically(">", 10), "the sampler never saw the surge")
		Expect(s.maxTotal.Load()).To(BeNumerically("<=", 13), "more than replicas + maxSurge pods at once")
		Expect(s.minReady.Load()).To(BeNumerically(">=", 8), "fewer than replicas − maxUnavailable pods ready at once")

		rss := replicaSetsOf(d)
		Expect(rss).To(HaveLen(2))
		Expect(get(d).Annotations).To(HaveKeyWithValue(deployment.RevisionAnnotation, "2"))

		By("rolling back: restoring the old template reuses the old ReplicaSet under a new revision")
		update(d, setImage("busybox:1"))
		Eventually(rolledOut(d, 10)).Should(Succeed())
		Expect(replicaSetsOf(d)).To(HaveLen(2))
		for name := range first {
			rs := replicaSetsOf(d)[name]
			Expect(*rs.Spec.Replicas).To(BeEquivalentTo(10))
			Expect(rs.Annotations).To(HaveKeyWithValue(deployment.RevisionAnnotation, "3"))
			Expect(rs.Annotations).To(HaveKeyWithValue(deployment.RevisionHistoryAnnotation, "1"))
		}
		Expect(get(d).Annotations).To(HaveKeyWithValue(deployment.RevisionAnnotation, "3"))
	})

	It("neither duplicates nor loses pods when the controller restarts mid-rollout", func() {
		d := newDeployment(ns, "restart", 10)
		rollingUpdate(d, 3, 2)
		Expect(k8s.Create(ctx, d)).To(Succeed())
		Eventually(rolledOut(d, 10)).Should(Succeed())

		s := sample(ns)
		update(d, setImage("busybox:2"))
		Eventually(func() int { return len(replicaSetsOf(d)) }).Should(Equal(2))
		Expect(suite.RestartManager(nil)).To(Succeed())

		Eventually(rolledOut(d, 10)).Should(Succeed())
		s.Stop()
		Expect(s.maxTotal.Load()).To(BeNumerically("<=", 13))
		Expect(s.minReady.Load()).To(BeNumerically(">=", 8))
		Expect(replicaSetsOf(d)).To(HaveLen(2))
		Consistently(func() int { total, _ := podCounts(ns); return total }, "2s").Should(Equal(10))
	})

	It("recreates: every old pod is gone before a new one exists", func() {
		d := newDeployment(ns, "recreate", 4)
		d.Spec.Strategy = appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType}
		Expect(k8s.Create(ctx, d)).To(Succeed())
		Eventually(rolledOut(d, 4)).Should(Succeed())

		var mixed atomic.Bool
		stop := make(chan struct{})
		var wg sync.WaitGroup
		wg.Go(func() {
			defer GinkgoRecover()
			for {
				select {
				case <-stop:
					return
				default:
				}
				var pods corev1alpha1.PodList
				Expect(k8s.List(ctx, &pods, client.InNamespace(ns))).To(Succeed())
				images := map[string]bool{}
				for _, p := range pods.Items {
					images[p.Spec.Containers[0].Image] = true
				}
				if len(images) > 1 {
					mixed.Store(true)
				}
			}
		})
		update(d, setImage("busybox:2"))
		Eventually(rolledOut(d, 4)).Should(Succeed())
		close(stop)
		wg.Wait()
		Expect(mixed.Load()).To(BeFalse(), "old and new pods existed at once")
	})

	It("pauses: a new template waits, scaling still works, and resuming rolls out", func() {
		d := newDeployment(ns, "pause", 3)
		Expect(k8s.Create(ctx, d)).To(Succeed())
		Eventually(rolledOut(d, 3)).Should(Succeed())

		update(d, func(d *appsv1alpha1.Deployment) { d.Spec.Paused = true })
		Eventually(func() []appsv1.DeploymentCondition { return get(d).Status.Conditions }).Should(ContainElement(And(
			HaveField("Type", appsv1.DeploymentProgressing), HaveField("Reason", deployment.PausedDeployReason))))
		update(d, setImage("busybox:2"))
		update(d, func(d *appsv1alpha1.Deployment) { d.Spec.Replicas = ptr.To[int32](5) })
		Eventually(func() int32 { return get(d).Status.AvailableReplicas }).Should(BeEquivalentTo(5))
		Consistently(func() int { return len(replicaSetsOf(d)) }, "2s").Should(Equal(1))

		update(d, func(d *appsv1alpha1.Deployment) { d.Spec.Paused = false })
		Eventually(rolledOut(d, 5)).Should(Succeed())
		Expect(replicaSetsOf(d)).To(HaveLen(2))
	})

	It("scales proportionally mid-rollout and reports a stuck rollout as ProgressDeadlineExceeded", func() {
		d := newDeployment(ns, "stuck", 10)
		rollingUpdate(d, 3, 2)
		d.Spec.ProgressDeadlineSeconds = ptr.To[int32](4)
		Expect(k8s.Create(ctx, d)).To(Succeed())
		Eventually(rolledOut(d, 10)).Should(Succeed())

		update(d, setImage(neverReady))
		// The new ReplicaSet surges to 3 never-ready pods; the old one may lose 2 (10 − 2 = 8).
		Eventually(func(g Gomega) {
			sizes := map[string]int32{}
			for name, rs := range replicaSetsOf(d) {
				sizes[name] = *rs.Spec.Replicas
			}
			g.Expect(sizes).To(HaveLen(2))
			g.Expect(sum(sizes)).To(BeEquivalentTo(13))
		}).Should(Succeed())

		Eventually(func() []appsv1.DeploymentCondition { return get(d).Status.Conditions }, "20s").Should(ContainElement(And(
			HaveField("Type", appsv1.DeploymentProgressing), HaveField("Status", corev1.ConditionFalse),
			HaveField("Reason", deployment.TimedOutReason))))

		By("scaling 10 → 20: 23 pods allowed, each ReplicaSet grows in proportion")
		before := replicaSetsOf(d)
		update(d, func(d *appsv1alpha1.Deployment) { d.Spec.Replicas = ptr.To[int32](20) })
		Eventually(func(g Gomega) {
			sizes := map[string]int32{}
			for name, rs := range replicaSetsOf(d) {
				sizes[name] = *rs.Spec.Replicas
			}
			g.Expect(sum(sizes)).To(BeEquivalentTo(23))
			for name, rs := range before {
				g.Expect(sizes[name]).To(BeNumerically(">", *rs.Spec.Replicas), "ReplicaSet %s did not grow", name)
			}
		}).Should(Succeed())
	})

	It("keeps only revisionHistoryLimit old ReplicaSets", func() {
		d := newDeployment(ns, "history", 2)
		d.Spec.RevisionHistoryLimit = ptr.To[int32](1)
		Expect(k8s.Create(ctx, d)).To(Succeed())
		for _, image := range []string{"busybox:2", "busybox:3", "busybox:4"} {
			Eventually(rolledOut(d, 2)).Should(Succeed())
			update(d, setImage(image))
		}
		Eventually(rolledOut(d, 2)).Should(Succeed())
		Eventually(func() int { return len(replicaSetsOf(d)) }).Should(Equal(2))
	})

	It("adopts a matching orphan ReplicaSet and releases one whose labels stop matching", func() {
		d := newDeployment(ns, "adopt", 2)
		orphan := &appsv1alpha1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "orphan", Labels: map[string]string{"app": "adopt"}}}
		orphan.Spec.Replicas = ptr.To[int32](0)
		orphan.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"app": "adopt", "v": "old"}}
		orphan.Spec.Template.Labels = map[string]string{"app": "adopt", "v": "old"}
		orphan.Spec.Template.Spec.Containers = []corev1.Container{{Name: "web", Image: "busybox:0"}}
		Expect(k8s.Create(ctx, orphan)).To(Succeed())
		Expect(k8s.Create(ctx, d)).To(Succeed())
		Eventually(rolledOut(d, 2)).Should(Succeed())
		Eventually(func() map[string]appsv1alpha1.ReplicaSet { return replicaSetsOf(d) }).Should(HaveKey("orphan"))

		Eventually(func() error {
			rs := &appsv1alpha1.ReplicaSet{}
			if err := k8s.Get(ctx, client.ObjectKeyFromObject(orphan), rs); err != nil {
				return err
			}
			rs.Labels = map[string]string{"app": "other"}
			return k8s.Update(ctx, rs)
		}).Should(Succeed())
		Eventually(func() map[string]appsv1alpha1.ReplicaSet { return replicaSetsOf(d) }).ShouldNot(HaveKey("orphan"))
	})
})

func sum(m map[string]int32) int32 {
	var n int32
	for _, v := range m {
		n += v
	}
	return n
}
