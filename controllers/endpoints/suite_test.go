package endpoints_test

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

func TestEndpoints(t *testing.T) {
	RegisterFailHandler(Fail)
	SetDefaultEventuallyTimeout(30 * time.Second)
	SetDefaultEventuallyPollingInterval(100 * time.Millisecond)
	RunSpecs(t, "EndpointSlice controller suite")
}

var _ = BeforeSuite(func() {
	var err error
	suite, err = testenv.StartSuite(GinkgoT().TempDir(), GinkgoWriter, testenv.DefaultOptions(), nil)
	Expect(err).NotTo(HaveOccurred())
	env, k8s, ctx = suite.Env, suite.Env.Client, suite.Ctx
})

var _ = AfterSuite(func() {
	if suite != nil {
		Expect(suite.Stop()).To(Succeed())
	}
})
