// Package faults injects faults into a running cluster and checks what kybern promises
// through them: the manager, built from main.go and run as a process of its own, is killed
// with SIGKILL or stopped with SIGTERM while two node agents run real containers. It needs
// root, containerd, runc and iproute2, as test/e2e does.
package faults

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
	"github.com/kybern/kybern/node-agent/apiservice"
	"github.com/kybern/kybern/node-agent/proxy"
	"github.com/kybern/kybern/test/testenv"
)

var (
	suite *testenv.Suite
	env   *testenv.Env
	k8s   client.Client
	ctx   context.Context
	// work holds the binaries, the image archives, and each agent's and manager's state and logs.
	work       string
	managerBin string
	unlockHost func()
	// managers are the manager processes started so far; the suite ends those still running.
	managers []*testenv.ManagerProcess
	agents   []*testenv.AgentProcess
)

// nodes are the two nodes whose agents the suite runs.
var nodes = []string{"faults-a", "faults-b"}

// clusterCIDR is the suite's pod network, apart from the default the other suites use:
// an agent refuses a pod CIDR whose bridge on this host still has another suite's pods.
const clusterCIDR = "10.247.0.0/16"

func TestFaults(t *testing.T) {
	testenv.RunSuite(t, "Faults suite: the manager killed and handed over")
}

var _ = BeforeSuite(func() {
	testenv.SetEventuallyDefaults(testenv.SuiteSpec{EventuallyTimeout: 60 * time.Second})
	Expect(os.Geteuid()).To(Equal(0), "the fault specs run containers and need root")
	for _, tool := range []string{"containerd", "runc", "ip"} {
		_, err := exec.LookPath(tool)
		Expect(err).NotTo(HaveOccurred(), "%s is missing: apt-get install -y containerd runc iproute2 busybox-static", tool)
	}
	var err error
	unlockHost, err = testenv.LockHost()
	Expect(err).NotTo(HaveOccurred())
	// Short: unix socket paths must stay under 108 bytes.
	work, err = os.MkdirTemp("", "kybern-faults-")
	Expect(err).NotTo(HaveOccurred())
	Expect(testenv.BuildNodeAgent(work)).To(Succeed())
	managerBin = filepath.Join(work, "manager")
	Expect(testenv.BuildManager(managerBin)).To(Succeed())
	Expect(os.MkdirAll(filepath.Join(work, "controlplane"), 0o755)).To(Succeed())
	// The control plane alone: the managers are the specs' processes.
	suite, err = testenv.StartSuite(filepath.Join(work, "controlplane"), GinkgoWriter, testenv.SuiteSpec{})
	Expect(err).NotTo(HaveOccurred())
	env, k8s, ctx = suite.Env, suite.Env.Client, suite.Ctx

	// Node lifecycle gives each node its pod CIDR, which an agent needs before it runs a pod.
	startManager()
	for _, node := range nodes {
		a, err := testenv.StartAgentProcessWith(work, env.Kubeconfig, node, "--cluster-cidr", clusterCIDR)
		Expect(err).NotTo(HaveOccurred())
		agents = append(agents, a)
	}
	for _, a := range agents {
		awaitReady(a)
	}
})

var _ = AfterSuite(func() {
	if unlockHost != nil {
		defer unlockHost()
	}
	if suite == nil {
		return
	}
	defer func() {
		// Every step runs, whichever fails: an agent that exited already reports its exit.
		var errs []error
		for _, a := range agents {
			errs = append(errs, a.Stop(), proxy.Cleanup(ctx, proxy.TableName(a.Node)), apiservice.Cleanup(ctx, a.Node))
		}
		for _, m := range managers {
			errs = append(errs, m.Kill())
		}
		errs = append(errs, suite.Stop(), os.RemoveAll(work))
		Expect(errors.Join(errs...)).To(Succeed())
	}()
	// Removing the pods needs a manager: the garbage collector deletes the ReplicaSets' pods.
	if running() == 0 {
		startManager()
	}
	testenv.RemoveDeploymentPods(ctx, k8s)
})

// A failed spec shows the end of every agent's and manager's log, which go with the work
// directory.
var _ = ReportAfterEach(func(report SpecReport) {
	if !report.Failed() {
		return
	}
	logs := map[string]string{}
	for _, a := range agents {
		logs["node agent "+a.Node] = a.LogFile
	}
	for i, m := range managers {
		logs[fmt.Sprintf("manager %d", i)] = m.LogFile
	}
	for what, file := range logs {
		fmt.Fprintf(GinkgoWriter, "--- last lines of %s's log:\n%s\n", what, tail(file))
	}
})

// tail is the end of a log file.
func tail(file string) string {
	data, err := os.ReadFile(file)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	return strings.Join(lines[max(0, len(lines)-40):], "\n")
}

// leaseNamespace and leaseName are the manager's leader Lease.
const (
	leaseNamespace = "default"
	leaseName      = "kybern-manager"
)

// startManager starts a manager process with leader election on the default lease
// duration (15 s), as the chart's replicas run.
func startManager() *testenv.ManagerProcess {
	m, err := testenv.StartManagerProcess(managerBin, filepath.Join(work, fmt.Sprintf("manager-%d.log", len(managers))),
		append(env.ManagerProcessArgs(), "--leader-elect", "--leader-election-namespace", leaseNamespace, "--leader-election-id", leaseName, "--cluster-cidr", clusterCIDR)...)
	Expect(err).NotTo(HaveOccurred())
	managers = append(managers, m)
	return m
}

// running counts the manager processes that have not exited.
func running() int {
	n := 0
	for _, m := range managers {
		if exited, _ := m.Exited(); !exited {
			n++
		}
	}
	return n
}

// awaitReady waits until a's Node is Ready, failing at once if a exits.
func awaitReady(a *testenv.AgentProcess) {
	EventuallyWithOffset(1, func(g Gomega) {
		if exited, err := a.Exited(); exited {
			Fail(fmt.Sprintf("node agent %s exited: %v; the end of its log:\n%s", a.Node, err, tail(a.LogFile)))
		}
		n := &corev1alpha1.Node{}
		g.Expect(k8s.Get(ctx, client.ObjectKey{Name: a.Node}, n)).To(Succeed())
		g.Expect(n.Status.Conditions).To(ContainElement(And(HaveField("Type", corev1.NodeReady), HaveField("Status", corev1.ConditionTrue))))
	}, "90s").Should(Succeed())
}

// readyCondition is the status of p's Ready condition.
func readyCondition(p *corev1alpha1.Pod) corev1.ConditionStatus {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status
		}
	}
	return corev1.ConditionUnknown
}
