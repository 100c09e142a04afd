// Package api_test checks the CRDs against a real kube-apiserver: they install the way
// `make install` installs them, every sample applies, bad input is refused with a message
// naming the field, and kubectl scales the replica-bearing kinds.
package api_test

import (
	"context"
	"path/filepath"
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/kybern/kybern/test/testenv"
)

var (
	env       *testenv.Env
	k8sClient client.Client
	ctx       context.Context
	cancel    context.CancelFunc
)

func TestAPI(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "CRD suite")
}

var _ = BeforeSuite(func() {
	logf.SetLogger(zap.New(zap.WriteTo(GinkgoWriter), zap.UseDevMode(true)))
	ctx, cancel = context.WithCancel(context.Background())
	var err error
	env, err = testenv.Start(GinkgoT().TempDir())
	Expect(err).NotTo(HaveOccurred())
	k8sClient = env.Client

	By("installing the CRDs as make install does: server-side apply, then wait for Established")
	Expect(env.InstallCRDs(ctx)).To(Succeed())
})

var _ = AfterSuite(func() {
	cancel()
	if env != nil {
		Expect(env.Stop()).To(Succeed())
	}
})

func samplesDir() string { return filepath.Join(testenv.RepoRoot(), "config", "samples") }

// run runs the real kubectl against the test apiserver and returns its combined output,
// failing the test when it fails.
func run(args ...string) string {
	out, err := tryRun(args...)
	ExpectWithOffset(1, err).NotTo(HaveOccurred(), "kubectl %v:\n%s", args, out)
	return out
}

// tryRun is run that returns kubectl's error instead of failing.
func tryRun(args ...string) (string, error) {
	return env.Kubectl(ctx, args...)
}
