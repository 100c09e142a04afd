package faults

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"

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

// The rollout: 30 replicas, maxSurge 25% (rounded up: 8) and maxUnavailable 25% (rounded
// down: 7), as upstream rounds them.
const (
	replicas       = 30
	maxSurge       = 8
	maxUnavailable = 7
)

// podSampler records, while it runs, the most live (not deleting) and the fewest ready
// live pods of one app.
type podSampler struct {
	stop     chan struct{}
	done     sync.WaitGroup
	maxLive  atomic.Int64
	minReady atomic.Int64
	samples  atomic.Int64
}

func samplePods(ns, app string) *podSampler {
	s := &podSampler{stop: make(chan struct{})}
	s.minReady.Store(1 << 30)
	s.done.Go(func() {
		defer GinkgoRecover()
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-s.stop:
				return
			case <-tick.C:
			}
			var pods corev1alpha1.PodList
			if err := k8s.List(ctx, &pods, client.InNamespace(ns), client.MatchingLabels{"app": app}); err != nil {
				continue
			}
			var live, ready int64
			for i := range pods.Items {
				if p := &pods.Items[i]; p.DeletionTimestamp == nil {
					live++
					if readyCondition(p) == corev1.ConditionTrue {
						ready++
					}
				}
			}
			if live > s.maxLive.Load() {
				s.maxLive.Store(live)
			}
			if ready < s.minReady.Load() {
				s.minReady.Store(ready)
			}
			s.samples.Add(1)
		}
	})
	return s
}

func (s *podSampler) Stop() {
	close(s.stop)
	s.done.Wait()
}

// livePodsByHash counts ns's live pods of app by pod-template-hash.
func livePodsByHash(g Gomega, ns, app string) map[string]int {
	var pods corev1alpha1.PodList
	g.Expect(k8s.List(ctx, &pods, client.InNamespace(ns), client.MatchingLabels{"app": app})).To(Succeed())
	out := map[string]int{}
	for _, p := range pods.Items {
		if p.DeletionTimestamp == nil {
			out[p.Labels[appsv1.DefaultDeploymentUniqueLabelKey]]++
		}
	}
	return out
}

var _ = Describe("The manager killed with SIGKILL in the middle of a rolling update", func() {
	It("lets a new manager complete the rollout within maxSurge and maxUnavailable, losing no pod and making no second ReplicaSet for a template", func() {
		ns, err := env.NewNamespace(ctx, "faults-rollout")
		Expect(err).NotTo(HaveOccurred())
		d := &appsv1alpha1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "web"}}
		d.Spec.Replicas = ptr.To[int32](replicas)
		d.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}
		d.Spec.Strategy = appsv1.DeploymentStrategy{Type: appsv1.RollingUpdateDeploymentStrategyType, RollingUpdate: &appsv1.RollingUpdateDeployment{
			MaxSurge: ptr.To(intstr.FromString("25%")), MaxUnavailable: ptr.To(intstr.FromString("25%"))}}
		d.Spec.Template.Labels = map[string]string{"app": "web"}
		d.Spec.Template.Spec.TerminationGracePeriodSeconds = ptr.To[int64](1)
		d.Spec.Template.Spec.Containers = []corev1.Container{{Name: "web", Image: "busybox", Command: []string{"httpd", "-f", "-p", "8080"},
			Env: []corev1.EnvVar{{Name: "VERSION", Value: "1"}}}}
		Expect(k8s.Create(ctx, d)).To(Succeed())
		DeferCleanup(func() {
			Expect(client.IgnoreNotFound(k8s.Delete(ctx, d))).To(Succeed())
		})

		By("running 30 ready pods of the first template over both nodes")
		complete := func(g Gomega) {
			cur := &appsv1alpha1.Deployment{}
			g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(d), cur)).To(Succeed())
			g.Expect(cur.Status.ObservedGeneration).To(Equal(cur.Generation))
			g.Expect(cur.Status.Replicas).To(BeEquivalentTo(replicas))
			g.Expect(cur.Status.UpdatedReplicas).To(BeEquivalentTo(replicas))
			g.Expect(cur.Status.AvailableReplicas).To(BeEquivalentTo(replicas))
		}
		Eventually(complete, "180s").Should(Succeed())

		By("updating the template, and killing the manager once the rollout is under way")
		sampler := samplePods(ns, "web")
		Eventually(func() error {
			cur := &appsv1alpha1.Deployment{}
			if err := k8s.Get(ctx, client.ObjectKeyFromObject(d), cur); err != nil {
				return err
			}
			cur.Spec.Template.Spec.Containers[0].Env[0].Value = "2"
			return k8s.Update(ctx, cur)
		}).Should(Succeed())
		var newHash string
		var atKill map[string]int
		Eventually(func(g Gomega) {
			// The new ReplicaSet is the one of the second revision.
			var sets appsv1alpha1.ReplicaSetList
			g.Expect(k8s.List(ctx, &sets, client.InNamespace(ns))).To(Succeed())
			for _, rs := range sets.Items {
				if rs.Annotations["deployment.kubernetes.io/revision"] == "2" {
					newHash = rs.Labels[appsv1.DefaultDeploymentUniqueLabelKey]
				}
			}
			g.Expect(newHash).NotTo(BeEmpty())
			byHash := livePodsByHash(g, ns, "web")
			// Past the first surge, so that the old ReplicaSet has been scaled down too.
			g.Expect(byHash[newHash]).To(And(BeNumerically(">", maxSurge), BeNumerically("<", replicas-maxSurge)))
			atKill = byHash
		}, "60s", "20ms").Should(Succeed())
		Expect(running()).To(Equal(1))
		for _, m := range managers {
			Expect(m.Kill()).To(Succeed())
		}
		killed := time.Now()
		old := 0
		for hash, n := range atKill {
			if hash != newHash {
				old += n
			}
		}
		Expect(old).To(BeNumerically(">", 0), "the rollout had finished before the kill")

		By("starting a new manager, which completes the rollout")
		startManager()
		Eventually(complete, "180s").Should(Succeed())
		took := time.Since(killed)
		Eventually(func(g Gomega) map[string]int { return livePodsByHash(g, ns, "web") }).Should(Equal(map[string]int{newHash: replicas}))
		sampler.Stop()

		AddReportEntry("manager killed mid-rollout", fmt.Sprintf("killed with %d new and %d old live pods; rollout complete %s after the kill; "+
			"most live pods %d (goal ≤ %d), fewest ready %d (goal ≥ %d), in %d samples",
			atKill[newHash], old, took.Round(100*time.Millisecond), sampler.maxLive.Load(), replicas+maxSurge,
			sampler.minReady.Load(), replicas-maxUnavailable, sampler.samples.Load()))
		Expect(sampler.maxLive.Load()).To(BeNumerically("<=", replicas+maxSurge), "more live pods than replicas + maxSurge")
		Expect(sampler.minReady.Load()).To(BeNumerically(">=", replicas-maxUnavailable), "fewer ready pods than replicas − maxUnavailable")

		By("keeping exactly two ReplicaSets, one per template, and every pod owned by the new one on a node")
		var sets appsv1alpha1.ReplicaSetList
		Expect(k8s.List(ctx, &sets, client.InNamespace(ns))).To(Succeed())
		hashes := map[string]int32{}
		for _, rs := range sets.Items {
			hashes[rs.Labels[appsv1.DefaultDeploymentUniqueLabelKey]] = ptr.Deref(rs.Spec.Replicas, 0)
		}
		Expect(sets.Items).To(HaveLen(2), "ReplicaSets by hash and replicas: %v", hashes)
		Expect(hashes).To(HaveKeyWithValue(newHash, int32(replicas)))
		var pods corev1alpha1.PodList
		Expect(k8s.List(ctx, &pods, client.InNamespace(ns))).To(Succeed())
		perNode := map[string]int{}
		for _, p := range pods.Items {
			if p.DeletionTimestamp != nil {
				continue
			}
			Expect(metav1.GetControllerOf(&p)).To(HaveField("Name", d.Name+"-"+newHash), "pod %s", p.Name)
			Expect(readyCondition(&p)).To(Equal(corev1.ConditionTrue), "pod %s", p.Name)
			perNode[p.Spec.NodeName]++
		}
		Expect(perNode).To(HaveLen(2), "the pods run on both nodes: %v", perNode)
	})
})
