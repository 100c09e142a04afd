package statefulset_test

import (
	"context"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"sigs.k8s.io/controller-runtime/pkg/client"

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
const neverReady = testenv.NeverReadyImage

// startKubelet plays the node agent for ns until the spec ends.
func startKubelet(ns string) {
	DeferCleanup(testenv.StartKubelet(ctx, k8s, ns).Stop)
}
