package deployment_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

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

func TestDeployment(t *testing.T) { testenv.RunSuite(t, "Deployment controller suite") }

var _ = testenv.DeclareSuite(testenv.SuiteSpec{
	Controllers:       []string{"deployment", "replicaset", "garbagecollector"},
	EventuallyTimeout: 60 * time.Second,
}, func(s *testenv.Suite) {
	suite, env, k8s, ctx = s, s.Env, s.Env.Client, s.Ctx
})

func newNamespace() string {
	ns, err := env.NewNamespace(ctx, "deploy-test")
	ExpectWithOffset(1, err).NotTo(HaveOccurred())
	return ns
}

// neverReady is an image the kubelet stand-in never makes ready, for stuck rollouts.
const neverReady = "busybox:never-ready"

// kubelet plays the node agent for one namespace: every pod it sees becomes Running and
// Ready, except pods whose first container runs neverReady, and those running
// testenv.CrashLoopImage, which crash loop.
type kubelet struct {
	ns   string
	stop context.CancelFunc
	done sync.WaitGroup
}

func startKubelet(ns string) *kubelet {
	c, stop := context.WithCancel(ctx)
	k := &kubelet{ns: ns, stop: stop}
	k.done.Go(func() {
		for c.Err() == nil {
			var pods corev1alpha1.PodList
			if err := k8s.List(c, &pods, client.InNamespace(ns)); err == nil {
				for i := range pods.Items {
					p := &pods.Items[i]
					if p.DeletionTimestamp != nil || p.Status.Phase == corev1.PodRunning || strings.HasSuffix(p.Spec.Containers[0].Image, "never-ready") {
						continue
					}
					if p.Spec.Containers[0].Image == testenv.CrashLoopImage {
						_ = testenv.MarkCrashLooping(c, k8s, p)
						continue
					}
					orig := p.DeepCopy()
					p.Status.Phase = corev1.PodRunning
					p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: metav1.Now()}}
					_ = k8s.Status().Patch(c, p, client.MergeFrom(orig))
				}
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
	return k
}

func (k *kubelet) Stop() {
	k.stop()
	k.done.Wait()
}
