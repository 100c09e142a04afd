// Package e2e runs real containers: the manager against envtest's apiserver, and node
// agents as their own processes, each with an embedded containerd, running the busybox
// image make images builds. It needs root, containerd, runc, iproute2 and busybox-static;
// make test installs them on Debian.
package e2e

import (
	"context"
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
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/client"

	appsv1alpha1 "github.com/kybern/kybern/api/apps/v1alpha1"
	batchv1alpha1 "github.com/kybern/kybern/api/batch/v1alpha1"
	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
	"github.com/kybern/kybern/controllers"
	"github.com/kybern/kybern/node-agent/apiservice"
	"github.com/kybern/kybern/node-agent/proxy"
	"github.com/kybern/kybern/test/testenv"
)

var (
	suite *testenv.Suite
	env   *testenv.Env
	k8s   client.Client
	ctx   context.Context
	// work holds the agent binary, the image archive, and each agent's state and logs.
	work string
	// sharedClaims stands for the filesystem every node mounts: each agent's
	// --shared-claim-dir, which claims of class kybern-shared live on.
	sharedClaims string
	// unlockHost lets other test processes with real containers start once this one is done.
	unlockHost func()
)

func TestE2E(t *testing.T) { testenv.RunSuite(t, "E2E suite: real containers") }

// spec runs every controller and the admission webhook, as make run does. Specs whose
// pods use the host (hostPath, hostNetwork, hostPort) run in privileged namespaces.
var spec = testenv.SuiteSpec{Controllers: []string{"*"}, Admission: true, EventuallyTimeout: 60 * time.Second,
	Configure: func(o *controllers.Options) {
		o.ClusterSigningDuration = signingDuration
		// A lost node's pods are collected within seconds rather than a minute.
		o.PodGCPeriod, o.PodGCQuarantine = time.Second, 2*time.Second
		// Usage every 5 s and autoscalers evaluated as often, as make run does not: the
		// autoscaling spec waits for a few rounds of each.
		o.MetricsServer.Resolution, o.HorizontalPodAutoscaler.SyncPeriod = 5*time.Second, 5*time.Second
		addr, err := testenv.FreeLoopbackAddr()
		if err != nil {
			panic(err)
		}
		o.MetricsServer.BindAddress = addr
	}}

var _ = BeforeSuite(func() {
	testenv.SetEventuallyDefaults(spec)
	Expect(os.Geteuid()).To(Equal(0), "the e2e tests run containers and need root")
	for _, tool := range []string{"containerd", "runc", "ip"} {
		_, err := exec.LookPath(tool)
		Expect(err).NotTo(HaveOccurred(), "%s is missing: apt-get install -y containerd runc iproute2 busybox-static", tool)
	}
	var err error
	unlockHost, err = testenv.LockHost()
	Expect(err).NotTo(HaveOccurred())
	// Short: unix socket paths must stay under 108 bytes.
	work, err = os.MkdirTemp("", "kybern-e2e-")
	Expect(err).NotTo(HaveOccurred())
	Expect(testenv.BuildNodeAgent(work)).To(Succeed())
	sharedClaims = filepath.Join(work, "shared-claims")
	Expect(os.Mkdir(sharedClaims, 0o755)).To(Succeed())
	Expect(os.MkdirAll(filepath.Join(work, "controlplane"), 0o755)).To(Succeed())
	suite, err = testenv.StartSuite(filepath.Join(work, "controlplane"), GinkgoWriter, spec)
	Expect(err).NotTo(HaveOccurred())
	env, k8s, ctx = suite.Env, suite.Env.Client, suite.Ctx
	admin, err := kubernetes.NewForConfig(env.Config)
	Expect(err).NotTo(HaveOccurred())
	go approveAdminServingRequests(ctx, admin)
})

var _ = AfterSuite(func() {
	if unlockHost != nil {
		defer unlockHost()
	}
	if suite == nil {
		return
	}
	// Agents and the control plane stop even when removing the pods fails.
	defer func() {
		for node := range agents {
			stopAgent(node)
			removeNodeRules(node)
		}
		Expect(suite.Stop()).To(Succeed())
		Expect(os.RemoveAll(work)).To(Succeed())
	}()
	removeAllPods()
})

// A failed spec shows the end of every agent's log, which goes with the work directory.
var _ = ReportAfterEach(func(report SpecReport) {
	if !report.Failed() {
		return
	}
	for node, a := range agents {
		data, err := os.ReadFile(a.LogFile)
		if err != nil {
			continue
		}
		lines := strings.Split(strings.TrimSpace(string(data)), "\n")
		fmt.Fprintf(GinkgoWriter, "--- last lines of node agent %s's log:\n%s\n", node, strings.Join(lines[max(0, len(lines)-30):], "\n"))
	}
})

// agents are the running agents by node name.
var agents = map[string]*testenv.AgentProcess{}

// startAgent runs the node agent for node, unless it runs already, and waits until its
// Node is Ready.
func startAgent(node string) *testenv.AgentProcess {
	if a, ok := agents[node]; ok {
		return a
	}
	a, err := testenv.StartAgentProcessWith(work, env.Kubeconfig, node, "--shared-claim-dir", sharedClaims)
	Expect(err).NotTo(HaveOccurred())
	agents[node] = a
	awaitReady(a)
	return a
}

// awaitReady waits until a's Node is Ready, failing at once if a exits.
func awaitReady(a *testenv.AgentProcess) {
	EventuallyWithOffset(1, func(g Gomega) {
		if exited, err := a.Exited(); exited {
			Fail(fmt.Sprintf("node agent %s exited: %v; see %s", a.Node, err, a.LogFile))
		}
		n := &corev1alpha1.Node{}
		g.Expect(k8s.Get(ctx, client.ObjectKey{Name: a.Node}, n)).To(Succeed())
		g.Expect(n.Status.Conditions).To(ContainElement(And(HaveField("Type", corev1.NodeReady), HaveField("Status", corev1.ConditionTrue))))
	}).Should(Succeed())
}

// stopAgent ends node's agent as Ctrl-C would; its containers keep running.
func stopAgent(node string) {
	Expect(agents[node].Stop()).To(Succeed())
	delete(agents, node)
}

// removeNodeRules removes the nftables tables of a node that is gone for good: the agents
// leave their service rules for a restart to take up, and rules for a cluster IP the
// allocator hands out again would catch that Service's traffic.
func removeNodeRules(node string) {
	Expect(proxy.Cleanup(ctx, proxy.TableName(node))).To(Succeed())
	Expect(apiservice.Cleanup(ctx, node)).To(Succeed())
}

// retireNode removes node for good, leaving nothing of it on the host: it cordons the
// Node, deletes every pod bound to it and waits until its agent has stopped their
// containers, then stops the agent, removes its rules and deletes the Node. A pod left
// running would hold the node's bridge, and the allocator gives the node's pod CIDR to the
// next node, whose agent then refuses to start beside it.
func retireNode(node string) {
	n := &corev1alpha1.Node{}
	if err := k8s.Get(ctx, client.ObjectKey{Name: node}, n); err == nil {
		orig := n.DeepCopy()
		n.Spec.Unschedulable = true
		Expect(client.IgnoreNotFound(k8s.Patch(ctx, n, client.MergeFrom(orig)))).To(Succeed())
	} else {
		Expect(client.IgnoreNotFound(err)).To(Succeed())
	}
	onNode := func() ([]string, error) {
		var pods corev1alpha1.PodList
		if err := k8s.List(ctx, &pods); err != nil {
			return nil, err
		}
		var names []string
		for _, p := range pods.Items {
			if p.Spec.NodeName == node {
				names = append(names, p.Namespace+"/"+p.Name)
			}
		}
		return names, nil
	}
	Eventually(func(g Gomega) {
		var pods corev1alpha1.PodList
		g.Expect(k8s.List(ctx, &pods)).To(Succeed())
		for i := range pods.Items {
			if p := &pods.Items[i]; p.Spec.NodeName == node && p.DeletionTimestamp == nil {
				g.Expect(client.IgnoreNotFound(k8s.Delete(ctx, p))).To(Succeed())
			}
		}
		g.Expect(onNode()).To(BeEmpty())
	}).Should(Succeed(), "the pods of node %s gone", node)
	if _, running := agents[node]; running {
		stopAgent(node)
	}
	removeNodeRules(node)
	Expect(client.IgnoreNotFound(k8s.Delete(ctx, &corev1alpha1.Node{ObjectMeta: metav1.ObjectMeta{Name: node}}))).To(Succeed())
}

// deletePodsIn deletes the pods of namespace ns and waits until their agents let them go.
func deletePodsIn(ns string) {
	Expect(k8s.DeleteAllOf(ctx, &corev1alpha1.Pod{}, client.InNamespace(ns))).To(Succeed())
	Eventually(func(g Gomega) {
		var left corev1alpha1.PodList
		g.Expect(k8s.List(ctx, &left, client.InNamespace(ns))).To(Succeed())
		g.Expect(left.Items).To(BeEmpty())
	}).Should(Succeed())
}

// removeAllPods deletes every object that makes pods, then every pod, and waits for
// the agents to stop and remove them.
func removeAllPods() {
	for _, kind := range []client.Object{&batchv1alpha1.CronJob{}, &batchv1alpha1.Job{}, &appsv1alpha1.DaemonSet{}, &appsv1alpha1.StatefulSet{}, &appsv1alpha1.Deployment{}, &appsv1alpha1.ReplicaSet{}} {
		var nss corev1.NamespaceList
		Expect(k8s.List(ctx, &nss)).To(Succeed())
		for _, ns := range nss.Items {
			Expect(k8s.DeleteAllOf(ctx, kind, client.InNamespace(ns.Name))).To(Succeed())
		}
	}
	var pods corev1alpha1.PodList
	Expect(k8s.List(ctx, &pods)).To(Succeed())
	for i := range pods.Items {
		Expect(client.IgnoreNotFound(k8s.Delete(ctx, &pods.Items[i]))).To(Succeed())
	}
	Eventually(func() ([]corev1alpha1.Pod, error) {
		var left corev1alpha1.PodList
		err := k8s.List(ctx, &left)
		return left.Items, err
	}, 2*time.Minute).Should(BeEmpty())
}
