package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	certificatesv1 "k8s.io/api/certificates/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	certutil "k8s.io/client-go/util/cert"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kybern/kybern/test/testenv"
	"github.com/kybern/kybern/test/testenv/clusterca"
)

// joining is the node whose agent joins with a bootstrap token; the suite's manager signs
// its certificates for signingDuration, so that they rotate within the spec.
const (
	joining         = "e2e-join"
	signingDuration = 20 * time.Second
)

// issuedTo counts the certificates signed for user.
func issuedTo(user string) func(Gomega) int {
	return func(g Gomega) int {
		var list certificatesv1.CertificateSigningRequestList
		g.Expect(k8s.List(ctx, &list)).To(Succeed())
		n := 0
		for _, csr := range list.Items {
			if certs, err := certutil.ParseCertsPEM(csr.Status.Certificate); err == nil && certs[0].Subject.CommonName == user {
				n++
			}
		}
		return n
	}
}

// join starts node's agent with the bootstrap kubeconfig, waits until the Node is Ready,
// and retires the node when the spec ends.
func join(bootstrap, node string, flags ...string) {
	a, err := testenv.StartJoiningAgentProcess(work, bootstrap, node, flags...)
	Expect(err).NotTo(HaveOccurred())
	agents[node] = a
	DeferCleanup(func() { retireNode(node) })
	awaitReady(a)
}

// bootstrapKubeconfig applies the node agents' RBAC, as make install does, and writes a
// bootstrap kubeconfig valid for an hour, returning its path.
func bootstrapKubeconfig() string {
	out, err := env.Kubectl(ctx, "apply", "--server-side", "-f", filepath.Join(testenv.RepoRoot(), "config", "rbac", "node-agent"))
	Expect(err).NotTo(HaveOccurred(), out)
	kubeconfig, err := clusterca.JoinKubeconfig(ctx, env.Config, time.Hour)
	Expect(err).NotTo(HaveOccurred())
	path := filepath.Join(GinkgoT().TempDir(), "bootstrap-kubeconfig")
	Expect(os.WriteFile(path, kubeconfig, 0o600)).To(Succeed())
	return path
}

var _ = Describe("A node agent that joins with a bootstrap token", Ordered, func() {
	var bootstrap string
	BeforeAll(func() { bootstrap = bootstrapKubeconfig() })

	It("obtains its own identity, runs pods with it across certificate rotations, and keeps reporting", func() {
		join(bootstrap, joining)
		Expect(issuedTo("kybern:node:" + joining)(Default)).To(BeNumerically(">=", 1))

		ns, err := env.NewPodSecurityNamespace(ctx, "e2e-join", "baseline")
		Expect(err).NotTo(HaveOccurred())
		Expect(k8s.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "creds"}, StringData: map[string]string{"password": "s3cret"}})).To(Succeed())
		p := newPod(ns, "reader", corev1.RestartPolicyAlways, "sh", "-c", "echo password=$(cat /creds/password); sleep 3600")
		p.Spec.NodeName = joining
		p.Spec.TerminationGracePeriodSeconds = ptr.To[int64](1)
		p.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "creds", MountPath: "/creds"}}
		p.Spec.Volumes = []corev1.Volume{{Name: "creds", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "creds"}}}}
		Expect(k8s.Create(ctx, p)).To(Succeed())
		Eventually(logOf(p, "main", 0)).Should(ContainSubstring("stdout F password=s3cret"), "the node read the Secret its pod uses, through its grant")

		By("rotating its certificate twice")
		Eventually(issuedTo("kybern:node:"+joining), 4*signingDuration).Should(BeNumerically(">=", 3))
		rotated := time.Now()
		Eventually(func(g Gomega) {
			lease := &coordinationv1.Lease{}
			g.Expect(k8s.Get(ctx, client.ObjectKey{Namespace: "kybern-node-lease", Name: joining}, lease)).To(Succeed())
			g.Expect(lease.Spec.RenewTime.Time).To(BeTemporally(">", rotated))
		}, 30*time.Second).Should(Succeed(), "the heartbeat goes on with the new certificate")
		Expect(current(p)()).To(And(HaveField("Status.Phase", corev1.PodRunning),
			HaveField("Status.ContainerStatuses", ConsistOf(HaveField("RestartCount", int32(0))))))

		after := newPod(ns, "after", corev1.RestartPolicyNever, "echo", "still here")
		after.Spec.NodeName = joining
		Expect(k8s.Create(ctx, after)).To(Succeed())
		Eventually(current(after)).Should(HaveField("Status.Phase", corev1.PodSucceeded), "status flows after the rotations")
		deletePodsIn(ns)
	})

	It("refuses, naming why, to take a live node's name or to run under another node's certificate", func() {
		// Another name: the first spec's node was live moments ago, and its certificates
		// have expired, so a new one would be refused it too.
		const joining = "e2e-join-live"
		join(bootstrap, joining)

		impostor := exec.Command(filepath.Join(work, "node-agent"), "--bootstrap-kubeconfig", bootstrap, "--node-name", joining,
			"--cert-dir", GinkgoT().TempDir(), "--state-dir", GinkgoT().TempDir())
		out, err := impostor.CombinedOutput()
		Expect(err).To(HaveOccurred(), "a second agent joined as a live node: %s", out)
		Expect(string(out)).To(ContainSubstring("node " + joining + " is held by a live node agent"))

		renamed := exec.Command(filepath.Join(work, "node-agent"), "--bootstrap-kubeconfig", bootstrap, "--node-name", "e2e-other",
			"--cert-dir", filepath.Join(work, "nodes", joining, "pki"), "--state-dir", GinkgoT().TempDir())
		out, err = renamed.CombinedOutput()
		Expect(err).To(HaveOccurred(), "an agent ran as e2e-other with e2e-join's certificate: %s", out)
		Expect(string(out)).To(ContainSubstring("holds the certificate of kybern:node:" + joining + ", not of --node-name=e2e-other"))
	})
})
