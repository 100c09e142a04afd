package manager_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gbytes"
	"github.com/onsi/gomega/gexec"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
	"github.com/kybern/kybern/test/testenv"
)

// startRun starts hack/run.sh, the foreground part of make run, in a process group of its
// own, so that a signal to the group is what Ctrl-C in its terminal sends.
func startRun(stateDir, metrics, probes string) *gexec.Session {
	cmd := exec.Command(filepath.Join(testenv.RepoRoot(), "hack", "run.sh"))
	cmd.Env = append(os.Environ(), "KUBECONFIG="+env.Kubeconfig, "STATE_DIR="+stateDir, "MANAGER="+managerBin,
		"NODE_AGENT="+nodeAgentBin, "METRICS_ADDR="+metrics, "HEALTH_ADDR="+probes)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	s, err := gexec.Start(cmd, GinkgoWriter, GinkgoWriter)
	Expect(err).NotTo(HaveOccurred())
	return s
}

var _ = Describe("make run's foreground script", func() {
	It("runs the manager until Ctrl-C, refuses a second run, and ignores a stale lock", func() {
		stateDir := GinkgoT().TempDir()
		By("recovering from the lock files of a run that was killed")
		Expect(os.WriteFile(filepath.Join(stateDir, "run.lock"), nil, 0o644)).To(Succeed())
		Expect(os.WriteFile(filepath.Join(stateDir, "run.pid"), []byte("999999\n"), 0o644)).To(Succeed())

		probes := freeAddr()
		first := startRun(stateDir, "0", probes)
		Eventually(func() int { code, _ := get("http://" + probes + "/readyz"); return code }, "30s").Should(Equal(200))

		By("registering this machine as a Ready node, its containers run by an embedded containerd")
		hostname, err := os.Hostname()
		Expect(err).NotTo(HaveOccurred())
		Eventually(func(g Gomega) {
			n := &corev1alpha1.Node{}
			g.Expect(env.Client.Get(ctx, client.ObjectKey{Name: hostname}, n)).To(Succeed())
			g.Expect(n.Status.NodeInfo.ContainerRuntimeVersion).To(HavePrefix("containerd://"))
			g.Expect(n.Status.Conditions).To(ContainElement(And(HaveField("Type", corev1.NodeReady), HaveField("Status", corev1.ConditionTrue))))
		}, "60s").Should(Succeed())

		By("refusing a second run on the same state directory")
		second := startRun(stateDir, "0", freeAddr())
		Eventually(second, "10s").Should(gexec.Exit(1))
		Expect(second.Err).To(gbytes.Say(`make run is already running here \(pid \d+\)`))

		By("stopping on Ctrl-C")
		Expect(syscall.Kill(-first.Command.Process.Pid, syscall.SIGINT)).To(Succeed())
		Eventually(first, "40s").Should(gexec.Exit())
		Expect(first.Err).To(gbytes.Say("kybern: stopping"))
		Eventually(func() int { code, _ := get("http://" + probes + "/readyz"); return code }, "10s").Should(BeZero())
	})

	It("fails at once, naming the make variable, when a port is taken", func() {
		taken := freeAddr()
		holder := startManager("--leader-elect=false", "--metrics-bind-address", "0", "--health-probe-bind-address", taken)
		Eventually(func() int { code, _ := get("http://" + taken + "/readyz"); return code }, "30s").Should(Equal(200))
		defer func() {
			holder.Signal(syscall.SIGTERM)
			Eventually(holder, "40s").Should(gexec.Exit())
		}()

		port := taken[strings.LastIndex(taken, ":"):]
		s := startRun(GinkgoT().TempDir(), "0", port)
		Eventually(s, "10s").Should(gexec.Exit(1))
		Expect(s.Err).To(gbytes.Say("port " + port[1:] + " for the manager's health probes is in use by another process; free it or run: make run HEALTH_ADDR=:<free port>"))
	})
})
