// Package helm_test checks the chart in charts/kybern against a real apiserver: lint,
// every values example rendered and accepted in a server-side dry run, and a release
// installed, upgraded and uninstalled, with the built manager running on the chart's own
// ServiceAccount identity. Its control plane starts empty, as a cluster is before helm
// install: the chart brings the CRDs and policies.
package helm_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"k8s.io/client-go/kubernetes"

	"github.com/kybern/kybern/test/testenv"
)

var (
	env        *testenv.Env
	clientset  *kubernetes.Clientset
	helmBin    string
	managerBin string
	ctx        context.Context
	chart      = filepath.Join(testenv.RepoRoot(), "charts", "kybern")
)

func TestHelm(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Helm chart suite")
}

var _ = BeforeSuite(func() {
	SetDefaultEventuallyTimeout(60 * time.Second)
	SetDefaultEventuallyPollingInterval(200 * time.Millisecond)
	helmBin = os.Getenv("HELM")
	if helmBin == "" {
		helmBin = filepath.Join(testenv.RepoRoot(), "bin", "helm-v3.22.0")
	}
	_, err := os.Stat(helmBin)
	Expect(err).NotTo(HaveOccurred(), "the chart tests need Helm, built from Go modules: run make helm (or make test), or set HELM")
	var cancel context.CancelFunc
	ctx, cancel = context.WithCancel(context.Background())
	DeferCleanup(cancel)
	env, err = testenv.Start(GinkgoT().TempDir())
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(env.Stop)
	clientset = kubernetes.NewForConfigOrDie(env.Config)
	managerBin = filepath.Join(GinkgoT().TempDir(), "manager")
	build := exec.Command("go", "build", "-o", managerBin, ".")
	build.Dir = testenv.RepoRoot()
	out, err := build.CombinedOutput()
	Expect(err).NotTo(HaveOccurred(), "go build: %s", out)
})

// helm runs Helm against the suite's apiserver and returns its combined output.
func helm(args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, helmBin, append([]string{"--kubeconfig", env.Kubeconfig}, args...)...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}
