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
	// controlplaneBin is hack/controlplane, whose join make run calls.
	controlplaneBin string
	// nodeAgentBin is the node agent make run starts beside the manager.
	nodeAgentBin string
	ctx          context.Context
)

func TestManager(t *testing.T) { testenv.RunSuite(t, "Manager suite") }

// The suite runs no controllers in process: the specs start the built binaries.
var _ = testenv.DeclareSuite(testenv.SuiteSpec{}, func(s *testenv.Suite) {
	env, ctx = s.Env, s.Ctx
	clientset = kubernetes.NewForConfigOrDie(env.Config)
	bin := GinkgoT().TempDir()
	managerBin, nodeAgentBin, controlplaneBin = filepath.Join(bin, "manager"), filepath.Join(bin, "node-agent"), filepath.Join(bin, "controlplane")
	for out, pkg := range map[string]string{managerBin: ".", nodeAgentBin: "./node-agent", filepath.Join(bin, "kybern-log-driver"): "./node-agent/logdriver",
		controlplaneBin: "./hack/controlplane"} {
		build := exec.Command("go", "build", "-o", out, pkg)
		build.Dir = testenv.RepoRoot()
		output, err := build.CombinedOutput()
		Expect(err).NotTo(HaveOccurred(), "go build %s: %s", pkg, output)
	}
})
