package daemonset_test

import (
	"context"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	appsv1alpha1 "github.com/kybern/kybern/api/apps/v1alpha1"
	"github.com/kybern/kybern/controllers/daemonset"
	"github.com/kybern/kybern/controllers/internal/podutil"
)

// rolloutWatch samples a DaemonSet's pods every few milliseconds and keeps the worst it
// saw: the most nodes without a ready pod, and the most nodes running two pods.
type rolloutWatch struct {
	mu                    sync.Mutex
	maxMissing, maxDouble int
	stop                  context.CancelFunc
	done                  sync.WaitGroup
}

func watchRollout(ds *appsv1alpha1.DaemonSet, nodes []string) *rolloutWatch {
	c, stop := context.WithCancel(ctx)
	w := &rolloutWatch{stop: stop}
	w.done.Go(func() {
		defer GinkgoRecover()
		for c.Err() == nil {
			ready, pods := map[string]int{}, map[string]int{}
			for _, p := range podsOf(ds) {
				pods[p.Spec.NodeName]++
				if podutil.IsReady(&p) {
					ready[p.Spec.NodeName]++
				}
			}
			var missing, double int
			for _, n := range nodes {
				if ready[n] == 0 {
					missing++
				}
				if pods[n] > 1 {
					double++
				}
			}
			w.mu.Lock()
			w.maxMissing, w.maxDouble = max(w.maxMissing, missing), max(w.maxDouble, double)
			w.mu.Unlock()
			time.Sleep(5 * time.Millisecond)
		}
	})
	return w
}

// Stop ends the sampling and returns the worst seen.
func (w *rolloutWatch) Stop() (maxMissing, maxDouble int) {
	w.stop()
	w.done.Wait()
	return w.maxMissing, w.maxDouble
}

func rollingDS(ns, name string, surge, unavailable int32) *appsv1alpha1.DaemonSet {
	ds := newDS(ns, name)
	s, u := intstr.FromInt32(surge), intstr.FromInt32(unavailable)
	ds.Spec.UpdateStrategy = appsv1.DaemonSetUpdateStrategy{Type: appsv1.RollingUpdateDaemonSetStrategyType,
		RollingUpdate: &appsv1.RollingUpdateDaemonSet{MaxSurge: &s, MaxUnavailable: &u}}
	return ds
}

// allOnImage reports whether ds runs exactly one ready pod of image on each node.
func allOnImage(ds *appsv1alpha1.DaemonSet, nodes []string, image string) func(Gomega) {
	return func(g Gomega) {
		g.Expect(perNode(ds)()).To(Equal(onEach(nodes...)))
		for _, p := range podsOf(ds) {
			g.Expect(p.Spec.Containers[0].Image).To(Equal(image))
			g.Expect(podutil.IsReady(&p)).To(BeTrue())
		}
	}
}

// runOn creates ds on new nodes of ns, with a kubelet, and waits until each runs a ready
// pod of busybox:1.
func runOn(ns string, ds *appsv1alpha1.DaemonSet, names ...string) []string {
	nodes := registerNodes(ns, names...)
	startKubelet(ns)
	ExpectWithOffset(1, k8s.Create(ctx, ds)).To(Succeed())
	EventuallyWithOffset(1, allOnImage(ds, nodes, "busybox:1")).Should(Succeed())
	return nodes
}

func setImage(image string) func(*appsv1alpha1.DaemonSet) {
	return func(ds *appsv1alpha1.DaemonSet) { ds.Spec.Template.Spec.Containers[0].Image = image }
}

var _ = Describe("A DaemonSet update", func() {
	var ns string
	BeforeEach(func() { ns = newNamespace() })

	It("with maxSurge=1 starts each new pod before its old one goes, one node at a time", func() {
		ds := rollingDS(ns, "surge", 1, 0)
		nodes := runOn(ns, ds, "a", "b", "c")

		w := watchRollout(ds, nodes)
		patchDS(ds, setImage("busybox:2"))
		Eventually(allOnImage(ds, nodes, "busybox:2")).Should(Succeed())
		missing, double := w.Stop()
		Expect(missing).To(BeZero(), "a node lost its ready pod before its new one was ready")
		Expect(double).To(BeNumerically("<=", 1), "more than maxSurge nodes ran two pods at once")

		Eventually(statusOf(ds)).Should(And(HaveField("UpdatedNumberScheduled", BeEquivalentTo(3)),
			HaveField("NumberAvailable", BeEquivalentTo(3)), HaveField("ObservedGeneration", Equal(ds.Generation))))
		revs := revisionsOf(ds)
		Expect(revs).To(HaveLen(2))
		Expect([]int64{revs[0].Revision, revs[1].Revision}).To(ConsistOf(int64(1), int64(2)))
	})

	It("with maxUnavailable=2 and no surge replaces at most two nodes' pods at once", func() {
		ds := rollingDS(ns, "unavailable", 0, 2)
		nodes := runOn(ns, ds, "a", "b", "c", "d")

		w := watchRollout(ds, nodes)
		patchDS(ds, setImage("busybox:2"))
		Eventually(allOnImage(ds, nodes, "busybox:2")).Should(Succeed())
		missing, double := w.Stop()
		Expect(missing).To(BeNumerically("<=", 2))
		Expect(double).To(BeZero(), "without surge no node runs two pods")
	})

	It("with no updateStrategy, or RollingUpdate and no rollingUpdate block, rolls out one node at a time, as upstream's defaults", func() {
		for _, strategy := range []appsv1.DaemonSetUpdateStrategy{{}, {Type: appsv1.RollingUpdateDaemonSetStrategyType}} {
			// A namespace each: a DaemonSet runs on every node labelled with its namespace.
			ns := newNamespace()
			ds := newDS(ns, "defaults")
			ds.Spec.UpdateStrategy = strategy
			nodes := runOn(ns, ds, "a", "b", "c")

			w := watchRollout(ds, nodes)
			patchDS(ds, setImage("busybox:2"))
			Eventually(allOnImage(ds, nodes, "busybox:2")).Should(Succeed(), "strategy %+v", strategy)
			missing, double := w.Stop()
			Expect(missing).To(BeNumerically("<=", 1), "maxUnavailable defaults to 1")
			Expect(double).To(BeZero(), "maxSurge defaults to 0")
		}
	})

	It("stalls on new pods that never become ready, within maxUnavailable", func() {
		ds := rollingDS(ns, "stall", 0, 1)
		runOn(ns, ds, "a", "b", "c")

		patchDS(ds, setImage(neverReady))
		Eventually(statusOf(ds)).Should(And(HaveField("UpdatedNumberScheduled", BeEquivalentTo(1)),
			HaveField("NumberUnavailable", BeEquivalentTo(1))))
		Consistently(statusOf(ds), "2s").Should(And(HaveField("UpdatedNumberScheduled", BeEquivalentTo(1)),
			HaveField("NumberAvailable", BeEquivalentTo(2))))
	})

	It("with OnDelete replaces a pod only once it is deleted", func() {
		ds := newDS(ns, "ondelete")
		ds.Spec.UpdateStrategy = appsv1.DaemonSetUpdateStrategy{Type: appsv1.OnDeleteDaemonSetStrategyType}
		nodes := runOn(ns, ds, "a", "b")

		patchDS(ds, setImage("busybox:2"))
		Eventually(statusOf(ds)).Should(HaveField("ObservedGeneration", Equal(ds.Generation)))
		Consistently(allOnImage(ds, nodes, "busybox:1"), "2s").Should(Succeed())
		Expect(statusOf(ds)(Default).UpdatedNumberScheduled).To(BeZero())

		victim := podsOf(ds)[0]
		Expect(k8s.Delete(ctx, &victim)).To(Succeed())
		Eventually(func(g Gomega) {
			images := map[string]string{}
			for _, p := range podsOf(ds) {
				images[p.Spec.NodeName] = p.Spec.Containers[0].Image
				if p.Spec.NodeName == victim.Spec.NodeName {
					g.Expect(p.Labels[daemonset.RevisionHashLabel]).NotTo(Equal(victim.Labels[daemonset.RevisionHashLabel]))
				}
			}
			g.Expect(images).To(HaveLen(2))
			g.Expect(images[victim.Spec.NodeName]).To(Equal("busybox:2"))
		}).Should(Succeed())
		Eventually(statusOf(ds)).Should(HaveField("UpdatedNumberScheduled", BeEquivalentTo(1)))
	})
})
