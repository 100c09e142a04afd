// Package manager_test runs the built manager binary against a real apiserver: its probes,
// leader election, shutdown, and the errors a user gets for flags that cannot work.
package manager_test

import (
	"context"
	"os/exec"
	"path/filepath"
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"k8s.io/client-go/kubernetes"

	"github.com/kybern/kybern/test/testenv"
)

var (
	env        *testenv.Env
	clientset  *kubernetes.Clientset
	managerBin string
	// nodeAgentBin is the node agent make run starts beside the manager.
	nodeAgentBin string
	ctx          context.Context
	cancel       context.CancelFunc
)

func TestManager(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Manager suite")
}

var _ = BeforeSuite(func() {
	ctx, cancel = context.WithCancel(context.Background())
	bin := GinkgoT().TempDir()
	managerBin, nodeAgentBin = filepath.Join(bin, "manager"), filepath.Join(bin, "node-agent")
	for out, pkg := range map[string]string{managerBin: ".", nodeAgentBin: "./node-agent", filepath.Join(bin, "kybern-log-driver"): "./node-agent/logdriver"} {
		build := exec.Command("go", "build", "-o", out, pkg)
		build.Dir = testenv.RepoRoot()
		output, err := build.CombinedOutput()
		Expect(err).NotTo(HaveOccurred(), "go build %s: %s", pkg, output)
	}
	var err error

	env, err = testenv.Start(GinkgoT().TempDir())
	Expect(err).NotTo(HaveOccurred())
	Expect(env.InstallCRDs(ctx)).To(Succeed())
	clientset = kubernetes.NewForConfigOrDie(env.Config)
})

var _ = AfterSuite(func() {
	cancel()
	if env != nil {
		Expect(env.Stop()).To(Succeed())
	}
})
