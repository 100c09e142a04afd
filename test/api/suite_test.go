// Package api_test checks the CRDs against a real kube-apiserver: they install the way
// `make install` installs them, every sample applies, bad input is refused with a message
// naming the field, and kubectl scales the replica-bearing kinds.
package api_test

import (
	"context"
	"path/filepath"
	"testing"

	. "github.com/onsi/gomega"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kybern/kybern/test/testenv"
)

var (
	env       *testenv.Env
	k8sClient client.Client
	ctx       context.Context
)

func TestAPI(t *testing.T) { testenv.RunSuite(t, "CRD suite") }

// The suite runs no controllers, only the manager's admission webhook; StartSuite installs
// the CRDs as make install does, with server-side apply, and waits for them to be
// Established.
var _ = testenv.DeclareSuite(testenv.SuiteSpec{Admission: true}, func(s *testenv.Suite) {
	env, k8sClient, ctx = s.Env, s.Env.Client, s.Ctx
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
