package helm_test

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	certutil "k8s.io/client-go/util/cert"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	appsv1alpha1 "github.com/kybern/kybern/api/apps/v1alpha1"
	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
	"github.com/kybern/kybern/node-agent/apiservice"
	"github.com/kybern/kybern/node-agent/proxy"
	"github.com/kybern/kybern/test/testenv"
)

// joinSteps is the shell of step 1 of the "Join a node" part of the chart's NOTES: the
// commands that write the bootstrap kubeconfig, one per line.
func joinSteps(notes string) string {
	_, rest, ok := strings.Cut(notes, "1. Write its bootstrap kubeconfig")
	Expect(ok).To(BeTrue(), "the NOTES have no step 1 to join a node:\n%s", notes)
	step, _, ok := strings.Cut(rest, "2. Start the agent")
	Expect(ok).To(BeTrue(), "the NOTES have no step 2 to join a node:\n%s", notes)
	_, commands, _ := strings.Cut(step, "\n")
	return commands
}

// runJoinSteps runs the NOTES' step 1 in a new directory as a user would, with the suite's
// admin kubeconfig and kubectl on PATH, and returns the bootstrap kubeconfig it wrote.
func runJoinSteps(notes string) string {
	dir := GinkgoT().TempDir()
	sh := exec.CommandContext(ctx, "bash", "-euo", "pipefail", "-c", joinSteps(notes))
	sh.Dir = dir
	sh.Env = append(os.Environ(), "KUBECONFIG="+env.Kubeconfig, "PATH="+filepath.Dir(env.KubectlPath)+":"+os.Getenv("PATH"))
	out, err := sh.CombinedOutput()
	Expect(err).NotTo(HaveOccurred(), "the NOTES' join commands failed: %s", out)
	return filepath.Join(dir, "bootstrap-kubeconfig")
}

// joinNode starts a node agent with real containers (an embedded containerd) for node,
// joined with the bootstrap kubeconfig, and waits until its Node is Ready. When the spec
// ends the agent stops and its host rules go; the caller removes its pods before.
func joinNode(bootstrap, node string) {
	Expect(os.Geteuid()).To(Equal(0), "a node agent with real containers needs root")
	unlock, err := testenv.LockHost()
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(unlock)
	// Short: unix socket paths must stay under 108 bytes.
	work, err := os.MkdirTemp("", "kybern-helm-")
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(os.RemoveAll, work)
	Expect(testenv.BuildNodeAgent(work)).To(Succeed())
	agent, err := testenv.StartJoiningAgentProcess(work, bootstrap, node)
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(func() {
		Expect(agent.Stop()).To(Succeed())
		Expect(proxy.Cleanup(ctx, proxy.TableName(node))).To(Succeed())
		Expect(apiservice.Cleanup(ctx, node)).To(Succeed())
	})
	// First of the cleanups: the agent stops its containers only while it runs.
	DeferCleanup(func() { testenv.RemoveDeploymentPods(ctx, env.Client) })
	Eventually(func(g Gomega) {
		if exited, err := agent.Exited(); exited {
			log, _ := os.ReadFile(agent.LogFile)
			Fail(fmt.Sprintf("node agent %s exited: %v; its log:\n%s", node, err, log))
		}
		n := &corev1alpha1.Node{}
		g.Expect(env.Client.Get(ctx, client.ObjectKey{Name: node}, n)).To(Succeed())
		g.Expect(n.Status.Conditions).To(ContainElement(And(HaveField("Type", corev1.NodeReady), HaveField("Status", corev1.ConditionTrue))))
	}).Should(Succeed())
}

// rolledOut waits until d's latest generation is rolled out, every replica updated and
// available, and returns its pods, all Running and Ready.
func rolledOut(d *appsv1alpha1.Deployment) []corev1alpha1.Pod {
	var pods []corev1alpha1.Pod
	EventuallyWithOffset(1, func(g Gomega) {
		got := &appsv1alpha1.Deployment{}
		g.Expect(env.Client.Get(ctx, client.ObjectKeyFromObject(d), got)).To(Succeed())
		want := ptr.Deref(got.Spec.Replicas, 1)
		g.Expect(got.Status.ObservedGeneration).To(Equal(got.Generation))
		g.Expect(got.Status).To(And(HaveField("Replicas", want), HaveField("UpdatedReplicas", want), HaveField("AvailableReplicas", want)))
		var list corev1alpha1.PodList
		g.Expect(env.Client.List(ctx, &list, client.InNamespace(d.Namespace), client.MatchingLabels(got.Spec.Selector.MatchLabels))).To(Succeed())
		pods = nil
		for _, p := range list.Items {
			if p.DeletionTimestamp == nil {
				g.Expect(p.Status.Phase).To(Equal(corev1.PodRunning), p.Name)
				pods = append(pods, p)
			}
		}
		g.Expect(pods).To(HaveLen(int(want)))
	}, 2*time.Minute).Should(Succeed())
	return pods
}

// httpGet asks ip's port 80 for /; any HTTP answer will do.
func httpGet(ip string) error {
	c := http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get("http://" + ip + "/")
	if err != nil {
		return err
	}
	return resp.Body.Close()
}

// issuedTo counts the certificates signed for user.
func issuedTo(user string) int {
	list, err := clientset.CertificatesV1().CertificateSigningRequests().List(ctx, metav1.ListOptions{})
	Expect(err).NotTo(HaveOccurred())
	n := 0
	for _, csr := range list.Items {
		if certs, err := certutil.ParseCertsPEM(csr.Status.Certificate); err == nil && certs[0].Subject.CommonName == user {
			n++
		}
	}
	return n
}
