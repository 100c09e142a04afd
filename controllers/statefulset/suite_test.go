package statefulset_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
	"github.com/kybern/kybern/test/testenv"
)

var (
	suite *testenv.Suite
	env   *testenv.Env
	k8s   client.Client
	ctx   context.Context
)

func TestStatefulSet(t *testing.T) {
	RegisterFailHandler(Fail)
	SetDefaultEventuallyTimeout(30 * time.Second)
	SetDefaultEventuallyPollingInterval(100 * time.Millisecond)
	RunSpecs(t, "StatefulSet controller suite")
}

var _ = BeforeSuite(func() {
	opts := testenv.DefaultOptions()
	// No node agent renews a Lease here: keep the node reachable for the whole suite.
	opts.NodeMonitorGracePeriod = time.Hour
	var err error
	suite, err = testenv.StartSuite(GinkgoT().TempDir(), GinkgoWriter, opts, nil)
	Expect(err).NotTo(HaveOccurred())
	env, k8s, ctx = suite.Env, suite.Env.Client, suite.Ctx
	_, err = testenv.RegisterReadyNode(ctx, k8s, "node-1", "64", nil)
	Expect(err).NotTo(HaveOccurred())
})

var _ = AfterSuite(func() {
	if suite != nil {
		Expect(suite.Stop()).To(Succeed())
	}
})

func newNamespace() string {
	ns, err := env.NewNamespace(ctx, "sts-test")
	ExpectWithOffset(1, err).NotTo(HaveOccurred())
	return ns
}

// neverReady is an image the kubelet stand-in never makes ready.
const neverReady = "busybox:never-ready"

// kubelet plays the node agent for one namespace: every bound pod it sees becomes Running
// and Ready, except pods whose first container runs neverReady, which stay Pending.
type kubelet struct {
	stop context.CancelFunc
	done sync.WaitGroup
}

func startKubelet(ns string) *kubelet {
	c, stop := context.WithCancel(ctx)
	k := &kubelet{stop: stop}
	k.done.Go(func() {
		for c.Err() == nil {
			var pods corev1alpha1.PodList
			if err := k8s.List(c, &pods, client.InNamespace(ns)); err == nil {
				for i := range pods.Items {
					p := &pods.Items[i]
					if p.Spec.NodeName == "" || p.DeletionTimestamp != nil || p.Status.Phase == corev1.PodRunning ||
						strings.HasSuffix(p.Spec.Containers[0].Image, "never-ready") {
						continue
					}
					markReady(c, p)
				}
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
	DeferCleanup(k.Stop)
	return k
}

func (k *kubelet) Stop() {
	k.stop()
	k.done.Wait()
}

// markReady makes p Running and Ready since now; a pod that changed meanwhile is left for
// the next round, and its error returned.
func markReady(c context.Context, p *corev1alpha1.Pod) error {
	orig := p.DeepCopy()
	p.Status.Phase = corev1.PodRunning
	p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: metav1.Now()}}
	return k8s.Status().Patch(c, p, client.MergeFromWithOptions(orig, client.MergeFromWithOptimisticLock{}))
}
