package statefulset_test

import (
	"context"
	"testing"

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

func TestStatefulSet(t *testing.T) { testenv.RunSuite(t, "StatefulSet controller suite") }

var _ = testenv.DeclareSuite(testenv.SuiteSpec{
	Controllers: []string{"statefulset", "scheduler", "garbagecollector"},
}, func(s *testenv.Suite) {
	suite, env, k8s, ctx = s, s.Env, s.Env.Client, s.Ctx
	_, err := testenv.RegisterReadyNode(ctx, k8s, "node-1", "64", nil)
	Expect(err).NotTo(HaveOccurred())
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
