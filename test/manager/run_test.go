package manager_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gbytes"
	"github.com/onsi/gomega/gexec"

	certificatesv1 "k8s.io/api/certificates/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
	"github.com/kybern/kybern/test/testenv"
)

// startRun starts hack/run.sh, the foreground part of make run, in a process group of its
// own, so that a signal to the group is what Ctrl-C in its terminal sends. Variables in
// extraEnv (NAME=value) override the others.
func startRun(stateDir, metrics, probes string, extraEnv ...string) *gexec.Session {
	cmd := exec.Command(filepath.Join(testenv.RepoRoot(), "hack", "run.sh"))
	cmd.Env = append(os.Environ(), "KUBECONFIG="+env.Kubeconfig, "STATE_DIR="+stateDir, "MANAGER="+managerBin,
		"NODE_AGENT="+nodeAgentBin, "CONTROLPLANE="+controlplaneBin, "CLUSTER_CA_DIR="+filepath.Dir(env.CA.CertFile),
		"METRICS_ADDR="+metrics, "HEALTH_ADDR="+probes, "WEBHOOK_ADDR="+freeAddr())
	cmd.Env = append(cmd.Env, extraEnv...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	s, err := gexec.Start(cmd, GinkgoWriter, GinkgoWriter)
	Expect(err).NotTo(HaveOccurred())
	return s
}

// managerLeaseHolder is who holds the manager's leader Lease, "" for nobody.
func managerLeaseHolder() (string, error) {
	lease := &coordinationv1.Lease{}
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: "kybern-system", Name: "kybern-manager"}, lease); err != nil {
		return "", err
	}
	return ptr.Deref(lease.Spec.HolderIdentity, ""), nil
}

// runStubs is a directory of stand-ins for what hack/run.sh starts and asks: a manager and
// a node agent that append their arguments to manager.args and node-agent.args and wait,
// an install command (NODE_DEPS) that creates node-deps.ran and exits with a given code, and
// an `id` that answers a given uid.
type runStubs string

func newRunStubs(uid, nodeDepsExit int) runStubs {
	dir := GinkgoT().TempDir()
	Expect(os.Mkdir(filepath.Join(dir, "path"), 0o755)).To(Succeed())
	for name, body := range map[string]string{
		"manager":      `echo "$@" >>"` + dir + `/manager.args"; exec sleep 600`,
		"node-agent":   `echo "$@" >>"` + dir + `/node-agent.args"; exec sleep 600`,
		"controlplane": `echo "$@" >>"` + dir + `/controlplane.args"`,
		"node-deps":    fmt.Sprintf(`touch "%s/node-deps.ran"; exit %d`, dir, nodeDepsExit),
		"path/id":      fmt.Sprintf(`if [ "$1" = -u ]; then echo %d; else exec /usr/bin/id "$@"; fi`, uid),
	} {
		Expect(os.WriteFile(filepath.Join(dir, name), []byte("#!/bin/sh\n"+body+"\n"), 0o755)).To(Succeed())
	}
	return runStubs(dir)
}

// env is what makes hack/run.sh use the stand-ins.
func (r runStubs) env() []string {
	dir := string(r)
	return []string{"MANAGER=" + filepath.Join(dir, "manager"), "NODE_AGENT=" + filepath.Join(dir, "node-agent"), "CONTROLPLANE=" + filepath.Join(dir, "controlplane"),
		"NODE_DEPS=" + filepath.Join(dir, "node-deps"), "PATH=" + filepath.Join(dir, "path") + ":" + os.Getenv("PATH")}
}

// args returns what the stand-in named name was started with, a line per start.
func (r runStubs) args(name string) func() string {
	return func() string {
		b, _ := os.ReadFile(filepath.Join(string(r), name+".args"))
		return string(b)
	}
}

// stopRun sends Ctrl-C to a run started by startRun and waits for it to end cleanly.
func stopRun(s *gexec.Session) {
	Expect(syscall.Kill(-s.Command.Process.Pid, syscall.SIGINT)).To(Succeed())
	Eventually(s, "20s").Should(gexec.Exit())
	Expect(s.Err).To(gbytes.Say("kybern: stopping"))
}

var _ = Describe("make run's foreground script", func() {
	It("runs the manager until Ctrl-C, refuses a second run, and ignores a stale lock", func() {
		unlock, err := testenv.LockHost()
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(unlock)
		stateDir := GinkgoT().TempDir()
		By("recovering from the lock files of a run that was killed")
		Expect(os.WriteFile(filepath.Join(stateDir, "run.lock"), nil, 0o644)).To(Succeed())
		Expect(os.WriteFile(filepath.Join(stateDir, "run.pid"), []byte("999999\n"), 0o644)).To(Succeed())

		// What make install applies: the node agents' RBAC, bootstrap tokens' among it.
		out, err := env.Kubectl(ctx, "apply", "--server-side", "-f", filepath.Join(testenv.RepoRoot(), "config", "rbac", "node-agent"))
		Expect(err).NotTo(HaveOccurred(), out)
		probes := freeAddr()
		first := startRun(stateDir, "0", probes)
		Eventually(func() int { code, _ := get("http://" + probes + "/readyz"); return code }, "30s").Should(Equal(200))

		By("registering this machine as a Ready node, its containers run by an embedded containerd")
		hostname, err := os.Hostname()
		Expect(err).NotTo(HaveOccurred())
		// make run leaves the node's service rules for the next run; this control plane
		// goes with the suite, and rules for its cluster IPs would catch another's traffic.
		DeferCleanup(func() {
			out, err := exec.Command(nodeAgentBin, "--cleanup", "--node-name", hostname).CombinedOutput()
			Expect(err).NotTo(HaveOccurred(), "%s", out)
		})
		Eventually(func(g Gomega) {
			n := &corev1alpha1.Node{}
			g.Expect(env.Client.Get(ctx, client.ObjectKey{Name: hostname}, n)).To(Succeed())
			g.Expect(n.Status.NodeInfo.ContainerRuntimeVersion).To(HavePrefix("containerd://"))
			g.Expect(n.Status.Conditions).To(ContainElement(And(HaveField("Type", corev1.NodeReady), HaveField("Status", corev1.ConditionTrue))))
		}, "60s").Should(Succeed())
		By("with an identity of its own, kybern:node:<node>, obtained with a bootstrap token: never the admin kubeconfig")
		Expect(filepath.Join(stateDir, "nodes", hostname, "pki", "kybern-node-client-current.pem")).To(BeAnExistingFile())
		var csrs certificatesv1.CertificateSigningRequestList
		Expect(env.Client.List(ctx, &csrs)).To(Succeed())
		Expect(csrs.Items).To(ContainElement(And(HaveField("Spec.Username", HavePrefix("system:bootstrap:")),
			HaveField("Status.Certificate", Not(BeEmpty())))))

		By("refusing, through the manager's admission webhook, a privileged pod in a namespace without a Pod Security label")
		// The registration outlives the run; later specs start managers without admission.
		DeferCleanup(func() { Expect(env.RemoveAdmission(ctx)).To(Succeed()) })
		Eventually(func() error { return env.AdmissionProbe(ctx) }, "30s").Should(
			MatchError(ContainSubstring(`violates PodSecurity "baseline:latest": privileged (container "probe" must not set securityContext.privileged=true)`)))

		By("electing a leader through the Lease kybern-system/kybern-manager, as the chart's manager does")
		Eventually(managerLeaseHolder).ShouldNot(BeEmpty())

		By("refusing a second run on the same state directory")
		Expect(first.ExitCode()).To(Equal(-1), "the first run ended early; its output is above")
		second := startRun(stateDir, "0", freeAddr())
		Eventually(second, "10s").Should(gexec.Exit(1))
		Expect(second.Err).To(gbytes.Say(`make run is already running here \(pid \d+\)`))

		By("removing the pods it ran, other specs' among them, so that no container outlives the suite")
		node := &corev1alpha1.Node{}
		Expect(env.Client.Get(ctx, client.ObjectKey{Name: hostname}, node)).To(Succeed())
		cordoned := node.DeepCopy()
		cordoned.Spec.Unschedulable = true // Their controllers must not place them here again.
		Expect(env.Client.Patch(ctx, cordoned, client.MergeFrom(node))).To(Succeed())
		onNode := func(g Gomega) []corev1alpha1.Pod {
			var pods corev1alpha1.PodList
			g.Expect(env.Client.List(ctx, &pods)).To(Succeed())
			var out []corev1alpha1.Pod
			for _, p := range pods.Items {
				if p.Spec.NodeName == hostname {
					out = append(out, p)
				}
			}
			return out
		}
		for _, p := range onNode(Default) {
			Expect(client.IgnoreNotFound(env.Client.Delete(ctx, &p))).To(Succeed())
		}
		Eventually(onNode, "60s").Should(BeEmpty())

		By("stopping on Ctrl-C")
		Expect(syscall.Kill(-first.Command.Process.Pid, syscall.SIGINT)).To(Succeed())
		Eventually(first, "40s").Should(gexec.Exit())
		Expect(first.Err).To(gbytes.Say("kybern: stopping"))
		Eventually(func() int { code, _ := get("http://" + probes + "/readyz"); return code }, "10s").Should(BeZero())
		Eventually(managerLeaseHolder).Should(BeEmpty(), "a manager that stops gracefully releases its Lease, so the next one leads at once")
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

	It("without root, runs pods on a simulated node and says which command gives real containers", func() {
		stubs := newRunStubs(1000, 0)
		s := startRun(GinkgoT().TempDir(), "0", "0", stubs.env()...)
		Eventually(s.Err, "10s").Should(gbytes.Say(`kybern: pods run on 1 simulated node, not as real containers; for real containers, run as root: sudo make run\n`))
		Eventually(stubs.args("node-agent"), "10s").Should(ContainSubstring("--simulate-nodes 1 --node-name sim "))
		Eventually(stubs.args("manager"), "10s").Should(ContainSubstring("--kubeconfig " + env.Kubeconfig))
		Consistently(stubs.args("node-agent"), "1s").ShouldNot(ContainSubstring("--containerd"))
		Expect(filepath.Join(string(stubs), "node-deps.ran")).NotTo(BeAnExistingFile(), "installs packages without root")
		stopRun(s)
	})

	It("as root, installs what a node needs and runs pods as real containers, with SIMULATE_NODES=N simulated nodes beside them", func() {
		stubs := newRunStubs(0, 0)
		stateDir := GinkgoT().TempDir()
		Expect(os.MkdirAll(filepath.Join(stateDir, "images"), 0o755)).To(Succeed())
		Expect(os.WriteFile(filepath.Join(stateDir, "images", "busybox.tar"), nil, 0o644)).To(Succeed())
		s := startRun(stateDir, "0", "0", append(stubs.env(), "SIMULATE_NODES=2")...)
		Eventually(stubs.args("node-agent"), "10s").Should(And(
			ContainSubstring("--bootstrap-kubeconfig "+filepath.Join(stateDir, "bootstrap-kubeconfig")+" --containerd=embedded --state-dir "+stateDir+" --image-dir "+filepath.Join(stateDir, "images")),
			ContainSubstring("--simulate-nodes 2 --node-name sim ")))
		Expect(stubs.args("controlplane")()).To(Equal("--dir " + stateDir + " --kubeconfig " + env.Kubeconfig + " join\n"))
		Expect(stubs.args("manager")()).To(ContainSubstring("--cluster-signing-cert-file " + env.CA.CertFile))
		Expect(filepath.Join(string(stubs), "node-deps.ran")).To(BeAnExistingFile())
		stopRun(s)
		Expect(string(s.Err.Contents())).NotTo(ContainSubstring("not as real containers"))
	})

	It("as root, runs pods on a simulated node when what a node needs cannot be installed, and says so", func() {
		stubs := newRunStubs(0, 1)
		s := startRun(GinkgoT().TempDir(), "0", "0", stubs.env()...)
		Eventually(s.Err, "10s").Should(gbytes.Say(`kybern: pods run on 1 simulated node, not as real containers; for real containers, install what is named above, then: make run\n`))
		Eventually(stubs.args("node-agent"), "10s").Should(ContainSubstring("--simulate-nodes 1 --node-name sim "))
		Consistently(stubs.args("node-agent"), "1s").ShouldNot(ContainSubstring("--containerd"))
		stopRun(s)
	})
})
