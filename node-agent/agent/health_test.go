package agent_test

import (
	"context"
	"errors"
	"fmt"
	goruntime "runtime"
	"sync/atomic"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"

	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
	"github.com/kybern/kybern/node-agent/agent"
	"github.com/kybern/kybern/node-agent/runtime/simulated"
)

// downRuntime is a simulated runtime whose Version fails while down is set, as a
// containerd that stopped answering.
type downRuntime struct {
	*simulated.Runtime
	down atomic.Bool
}

func (r *downRuntime) Version(ctx context.Context) (string, error) {
	if r.down.Load() {
		return "", errors.New("connection refused")
	}
	return r.Runtime.Version(ctx)
}

func nodeReady(name string) func(Gomega) corev1.NodeCondition {
	return func(g Gomega) corev1.NodeCondition {
		n := &corev1alpha1.Node{}
		g.Expect(k8s.Get(ctx, client.ObjectKey{Name: name}, n)).To(Succeed())
		for _, c := range n.Status.Conditions {
			if c.Type == corev1.NodeReady {
				return c
			}
		}
		return corev1.NodeCondition{}
	}
}

var _ = Describe("Node health", func() {
	It("reports Ready=False while the container runtime does not answer, and Ready again once it does", func() {
		name := fmt.Sprintf("health-%d", GinkgoParallelProcess())
		// Tainted before its agent registers it, so that no other spec's pods land on it.
		node := &corev1alpha1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}}
		node.Spec.Taints = []corev1.Taint{{Key: "kybern.io/test-only", Effect: corev1.TaintEffectNoSchedule}}
		Expect(k8s.Create(ctx, node)).To(Succeed())
		DeferCleanup(func() { Expect(client.IgnoreNotFound(k8s.Delete(ctx, node))).To(Succeed()) })

		cfg := rest.CopyConfig(env.Config)
		httpClient, err := rest.HTTPClientFor(cfg)
		Expect(err).NotTo(HaveOccurred())
		mapper, err := apiutil.NewDynamicRESTMapper(cfg, httpClient)
		Expect(err).NotTo(HaveOccurred())
		shared := agent.Shared{Rest: cfg, HTTP: httpClient, Mapper: mapper, Scheme: k8s.Scheme(), Clock: clock.RealClock{}, Log: ctrl.Log.WithName("node-agent")}
		rt := &downRuntime{Runtime: simulated.New(clock.RealClock{}, 50*time.Millisecond)}
		dir := GinkgoT().TempDir()
		a, err := agent.New(shared, agent.Config{NodeName: name, Arch: goruntime.GOARCH, Address: "127.0.0.1", RuntimeName: "simulated",
			Capacity: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1"), corev1.ResourceMemory: resource.MustParse("1Gi"), corev1.ResourcePods: resource.MustParse("10")},
			LogDir:   dir + "/logs", PodDir: dir + "/pods"}, rt)
		Expect(err).NotTo(HaveOccurred())
		agentCtx, stop := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() {
			defer GinkgoRecover()
			defer close(done)
			Expect(a.Run(agentCtx)).To(Succeed())
		}()
		DeferCleanup(func() { stop(); Eventually(done).Should(BeClosed()) })

		Eventually(nodeReady(name)).Should(HaveField("Status", corev1.ConditionTrue))
		rt.down.Store(true)
		a.StatusChanged()
		// At once on StatusChanged, not at the next 10 s round.
		Eventually(nodeReady(name), 5*time.Second).Should(And(HaveField("Status", corev1.ConditionFalse),
			HaveField("Reason", "KubeletNotReady"), HaveField("Message", "container runtime is down")))
		rt.down.Store(false)
		// Without StatusChanged: the next evaluation, within 10 s, sees it back.
		Eventually(nodeReady(name), 15*time.Second).Should(And(HaveField("Status", corev1.ConditionTrue), HaveField("Reason", "KubeletReady")))
	})
})
