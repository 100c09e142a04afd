package e2e

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
)

// unpullable names a registry on a closed loopback port: the pull fails at once, and no
// packet leaves the machine.
const unpullable = "localhost:1/absent:1.0"

// rollbackDeployment is a Deployment of 4 busybox servers on e2e-a that rolls out one
// pod at a time (maxSurge 1, maxUnavailable 1) and rolls back under policy. A pod counts
// as available after 5 s ready, as upstream's guide advises for a rollout to be safe: a
// container without a readiness probe that crashes at once is Ready for a moment; were
// it counted available, the controller would take an old pod down for it.
func rollbackDeployment(ns, name string, policy *appsv1alpha1.RollbackPolicy) *appsv1alpha1.Deployment {
	d := &appsv1alpha1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
	d.Spec.Replicas = ptr.To[int32](4)
	d.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}}
	d.Spec.Strategy = appsv1.DeploymentStrategy{Type: appsv1.RollingUpdateDeploymentStrategyType, RollingUpdate: &appsv1.RollingUpdateDeployment{
		MaxSurge: ptr.To(intstr.FromInt32(1)), MaxUnavailable: ptr.To(intstr.FromInt32(1))}}
	d.Spec.MinReadySeconds = 5
	d.Spec.RollbackPolicy = policy
	d.Spec.Template.Labels = map[string]string{"app": name}
	d.Spec.Template.Spec.NodeSelector = map[string]string{corev1.LabelHostname: "e2e-a"}
	d.Spec.Template.Spec.TerminationGracePeriodSeconds = ptr.To[int64](1)
	d.Spec.Template.Spec.Containers = []corev1.Container{{Name: "web", Image: "busybox", Command: []string{"httpd", "-f", "-p", "8080"}}}
	return d
}

// readySampler records the fewest ready pods of one app seen while it runs.
type readySampler struct {
	stop     chan struct{}
	done     sync.WaitGroup
	minReady atomic.Int64
	samples  atomic.Int64
}

func sampleReady(ns, app string) *readySampler {
	s := &readySampler{stop: make(chan struct{})}
	s.minReady.Store(1 << 30)
	s.done.Go(func() {
		defer GinkgoRecover()
		for {
			select {
			case <-s.stop:
				return
			default:
			}
			var pods corev1alpha1.PodList
			if err := k8s.List(ctx, &pods, client.InNamespace(ns), client.MatchingLabels{"app": app}); err != nil {
				continue
			}
			var ready int64
			for i := range pods.Items {
				if p := &pods.Items[i]; p.DeletionTimestamp == nil && readyCondition(p) == corev1.ConditionTrue {
					ready++
				}
			}
			if ready < s.minReady.Load() {
				s.minReady.Store(ready)
			}
			s.samples.Add(1)
		}
	})
	return s
}

func (s *readySampler) Stop() {
	close(s.stop)
	s.done.Wait()
}

// backOn waits until d runs its first template again on 4 ready pods while spec.template
// still asks for failedImage, with the RolledBack condition's reason.
func backOn(d *appsv1alpha1.Deployment, reason string) func(Gomega) {
	return func(g Gomega) {
		cur := &appsv1alpha1.Deployment{}
		g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(d), cur)).To(Succeed())
		g.Expect(cur.Status.Conditions).To(ContainElement(And(HaveField("Type", appsv1.DeploymentConditionType(appsv1alpha1.RolledBack)),
			HaveField("Status", corev1.ConditionTrue), HaveField("Reason", reason))))
		g.Expect(cur.Status.Replicas).To(Equal(int32(4)))
		g.Expect(cur.Status.UpdatedReplicas).To(Equal(int32(4)))
		g.Expect(cur.Status.AvailableReplicas).To(Equal(int32(4)))
		var pods corev1alpha1.PodList
		g.Expect(k8s.List(ctx, &pods, client.InNamespace(d.Namespace), client.MatchingLabels{"app": d.Name})).To(Succeed())
		var running int
		for i := range pods.Items {
			p := &pods.Items[i]
			if p.DeletionTimestamp != nil {
				continue
			}
			g.Expect(p.Spec.Containers[0].Image).To(Equal("busybox"), "pod %s", p.Name)
			g.Expect(p.Spec.Containers[0].Command).To(Equal([]string{"httpd", "-f", "-p", "8080"}), "pod %s", p.Name)
			g.Expect(readyCondition(p)).To(Equal(corev1.ConditionTrue), "pod %s", p.Name)
			running++
		}
		g.Expect(running).To(Equal(4))
	}
}

var _ = Describe("Automatic rollback on real containers", Ordered, func() {
	var ns string
	BeforeAll(func() {
		startAgent("e2e-a")
		var err error
		ns, err = env.NewNamespace(ctx, "e2e-rollback")
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(func() {
			for _, name := range []string{"pull", "crash"} {
				Expect(client.IgnoreNotFound(k8s.Delete(ctx, &appsv1alpha1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}))).To(Succeed())
			}
			Expect(client.IgnoreNotFound(k8s.Delete(ctx, &appsv1alpha1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "db"}}))).To(Succeed())
			Expect(client.IgnoreNotFound(k8s.Delete(ctx, &appsv1alpha1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "agent"}}))).To(Succeed())
			deletePodsIn(ns)
		})
	})

	It("returns a Deployment updated to an image that cannot be pulled, and one whose new version crash loops, to their old revision by themselves, never below replicas − maxUnavailable ready pods", func() {
		pull := rollbackDeployment(ns, "pull", &appsv1alpha1.RollbackPolicy{Triggers: &appsv1alpha1.RollbackTriggers{
			NotReady: &appsv1alpha1.NotReadyTrigger{Seconds: ptr.To[int32](10)}}})
		crash := rollbackDeployment(ns, "crash", &appsv1alpha1.RollbackPolicy{Triggers: &appsv1alpha1.RollbackTriggers{
			CrashLoop: &appsv1alpha1.CrashLoopTrigger{Restarts: ptr.To[int32](1)}}})
		for _, d := range []*appsv1alpha1.Deployment{pull, crash} {
			Expect(k8s.Create(ctx, d)).To(Succeed())
		}
		for _, d := range []*appsv1alpha1.Deployment{pull, crash} {
			Eventually(func(g Gomega) {
				cur := &appsv1alpha1.Deployment{}
				g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(d), cur)).To(Succeed())
				g.Expect(cur.Status.AvailableReplicas).To(Equal(int32(4)))
				g.Expect(cur.Status.Rollback).NotTo(BeNil())
				g.Expect(cur.Status.Rollback.StableRevision).NotTo(BeEmpty())
			}).Should(Succeed())
		}

		pullSamples, crashSamples := sampleReady(ns, "pull"), sampleReady(ns, "crash")
		Eventually(func() error {
			cur := &appsv1alpha1.Deployment{}
			if err := k8s.Get(ctx, client.ObjectKeyFromObject(pull), cur); err != nil {
				return err
			}
			cur.Spec.Template.Spec.Containers[0].Image = unpullable
			return k8s.Update(ctx, cur)
		}).Should(Succeed())
		Eventually(func() error {
			cur := &appsv1alpha1.Deployment{}
			if err := k8s.Get(ctx, client.ObjectKeyFromObject(crash), cur); err != nil {
				return err
			}
			cur.Spec.Template.Spec.Containers[0].Command = []string{"sh", "-c", "echo broken config; exit 3"}
			return k8s.Update(ctx, cur)
		}).Should(Succeed())

		Eventually(backOn(pull, appsv1alpha1.RollbackReasonNotReady), "120s").Should(Succeed())
		Eventually(backOn(crash, appsv1alpha1.RollbackReasonCrashLoop), "120s").Should(Succeed())
		pullSamples.Stop()
		crashSamples.Stop()
		Expect(pullSamples.minReady.Load()).To(BeNumerically(">=", 3), "fewer than replicas − maxUnavailable ready in %d samples", pullSamples.samples.Load())
		Expect(crashSamples.minReady.Load()).To(BeNumerically(">=", 3), "fewer than replicas − maxUnavailable ready in %d samples", crashSamples.samples.Load())
		AddReportEntry("rollback samples", fmt.Sprintf("unpullable image: fewest ready %d in %d samples; crash loop: fewest ready %d in %d samples",
			pullSamples.minReady.Load(), pullSamples.samples.Load(), crashSamples.minReady.Load(), crashSamples.samples.Load()))

		cur := &appsv1alpha1.Deployment{}
		Expect(k8s.Get(ctx, client.ObjectKeyFromObject(crash), cur)).To(Succeed())
		Expect(cur.Spec.Template.Spec.Containers[0].Command).To(Equal([]string{"sh", "-c", "echo broken config; exit 3"}), "spec.template was rewritten")
		Expect(cur.Status.Conditions).To(ContainElement(HaveField("Message", ContainSubstring("exiting with code 3"))))
		Expect(k8s.Get(ctx, client.ObjectKeyFromObject(pull), cur)).To(Succeed())
		Expect(cur.Spec.Template.Spec.Containers[0].Image).To(Equal(unpullable), "spec.template was rewritten")
	})

	// Both count a pod available after 5 s ready, as rollbackDeployment does: with 0 the
	// broken version's pod, Ready for the moment before its container exits, completes the
	// rollout and becomes the stable revision, so nothing is rolled back.
	It("returns a StatefulSet and a DaemonSet whose new version crash loops to their old revision by themselves", func() {
		policy := &appsv1alpha1.RollbackPolicy{Triggers: &appsv1alpha1.RollbackTriggers{CrashLoop: &appsv1alpha1.CrashLoopTrigger{Restarts: ptr.To[int32](1)}}}
		serve := corev1.Container{Name: "app", Image: "busybox", Command: []string{"httpd", "-f", "-p", "8080"}}
		broken := []string{"sh", "-c", "echo broken config; exit 3"}

		set := &appsv1alpha1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "db"}}
		set.Spec.Replicas = ptr.To[int32](2)
		set.Spec.MinReadySeconds = 5
		set.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"app": "db"}}
		set.Spec.Template.Labels = map[string]string{"app": "db"}
		set.Spec.Template.Spec.NodeSelector = map[string]string{corev1.LabelHostname: "e2e-a"}
		set.Spec.Template.Spec.TerminationGracePeriodSeconds = ptr.To[int64](1)
		set.Spec.Template.Spec.Containers = []corev1.Container{serve}
		set.Spec.RollbackPolicy = policy
		ds := &appsv1alpha1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "agent"}}
		ds.Spec.MinReadySeconds = 5
		ds.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"app": "agent"}}
		ds.Spec.Template.Labels = map[string]string{"app": "agent"}
		ds.Spec.Template.Spec.NodeSelector = map[string]string{corev1.LabelHostname: "e2e-a"}
		ds.Spec.Template.Spec.TerminationGracePeriodSeconds = ptr.To[int64](1)
		ds.Spec.Template.Spec.Containers = []corev1.Container{serve}
		ds.Spec.RollbackPolicy = policy
		Expect(k8s.Create(ctx, set)).To(Succeed())
		Expect(k8s.Create(ctx, ds)).To(Succeed())
		stable := func(obj client.Object, status func() *appsv1alpha1.RollbackStatus) func(Gomega) {
			return func(g Gomega) {
				g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(obj), obj)).To(Succeed())
				g.Expect(status()).NotTo(BeNil())
				g.Expect(status().StableRevision).NotTo(BeEmpty())
			}
		}
		Eventually(stable(set, func() *appsv1alpha1.RollbackStatus { return set.Status.Rollback })).Should(Succeed())
		Eventually(stable(ds, func() *appsv1alpha1.RollbackStatus { return ds.Status.Rollback })).Should(Succeed())

		Eventually(func() error {
			cur := &appsv1alpha1.StatefulSet{}
			if err := k8s.Get(ctx, client.ObjectKeyFromObject(set), cur); err != nil {
				return err
			}
			cur.Spec.Template.Spec.Containers[0].Command = broken
			return k8s.Update(ctx, cur)
		}).Should(Succeed())
		Eventually(func() error {
			cur := &appsv1alpha1.DaemonSet{}
			if err := k8s.Get(ctx, client.ObjectKeyFromObject(ds), cur); err != nil {
				return err
			}
			cur.Spec.Template.Spec.Containers[0].Command = broken
			return k8s.Update(ctx, cur)
		}).Should(Succeed())

		rolledBackTo := func(app string, want int, conditions func() []metav1.Condition) func(Gomega) {
			return func(g Gomega) {
				g.Expect(conditions()).To(ContainElement(And(HaveField("Type", appsv1alpha1.RolledBack),
					HaveField("Status", metav1.ConditionTrue), HaveField("Reason", appsv1alpha1.RollbackReasonCrashLoop))))
				var pods corev1alpha1.PodList
				g.Expect(k8s.List(ctx, &pods, client.InNamespace(ns), client.MatchingLabels{"app": app})).To(Succeed())
				var live int
				for i := range pods.Items {
					p := &pods.Items[i]
					if p.DeletionTimestamp != nil {
						continue
					}
					g.Expect(p.Spec.Containers[0].Command).To(Equal(serve.Command), "pod %s", p.Name)
					g.Expect(readyCondition(p)).To(Equal(corev1.ConditionTrue), "pod %s", p.Name)
					live++
				}
				g.Expect(live).To(Equal(want))
			}
		}
		Eventually(rolledBackTo("db", 2, func() []metav1.Condition {
			cur := &appsv1alpha1.StatefulSet{}
			Expect(k8s.Get(ctx, client.ObjectKeyFromObject(set), cur)).To(Succeed())
			var out []metav1.Condition
			for _, c := range cur.Status.Conditions {
				out = append(out, metav1.Condition{Type: string(c.Type), Status: metav1.ConditionStatus(c.Status), Reason: c.Reason})
			}
			return out
		}), "120s").Should(Succeed())
		Eventually(rolledBackTo("agent", 1, func() []metav1.Condition {
			cur := &appsv1alpha1.DaemonSet{}
			Expect(k8s.Get(ctx, client.ObjectKeyFromObject(ds), cur)).To(Succeed())
			var out []metav1.Condition
			for _, c := range cur.Status.Conditions {
				out = append(out, metav1.Condition{Type: string(c.Type), Status: metav1.ConditionStatus(c.Status), Reason: c.Reason})
			}
			return out
		}), "120s").Should(Succeed())
	})
})
