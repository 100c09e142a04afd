package helm_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gexec"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	appsv1alpha1 "github.com/kybern/kybern/api/apps/v1alpha1"
	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
	"github.com/kybern/kybern/test/testenv"
)

const namespace = "kybern-system"

// valuesExamples are the chart's defaults ("") and every file in charts/kybern/ci.
func valuesExamples() []string {
	files, err := filepath.Glob(filepath.Join(chart, "ci", "*.yaml"))
	Expect(err).NotTo(HaveOccurred())
	Expect(files).NotTo(BeEmpty())
	return append([]string{""}, files...)
}

func withValues(args []string, values string) []string {
	if values == "" {
		return args
	}
	return append(args, "-f", values)
}

var _ = Describe("The Helm chart", Ordered, func() {
	It("lints strictly with its defaults and every values example", func() {
		for _, values := range valuesExamples() {
			out, err := helm(withValues([]string{"lint", "--strict", "--namespace", namespace, chart}, values)...)
			Expect(err).NotTo(HaveOccurred(), "%s: %s", values, out)
		}
	})

	It("refuses, naming the fix, another namespace and a service range over the pod range", func() {
		out, err := helm("template", "kybern", chart, "--namespace", "default")
		Expect(err).To(HaveOccurred())
		Expect(out).To(ContainSubstring("kybern installs into the namespace kybern-system"))
		out, err = helm("template", "kybern", chart, "--namespace", namespace, "--set", "serviceClusterIPRange=10.244.0.0/16")
		Expect(err).To(HaveOccurred())
		Expect(out).To(ContainSubstring("overlaps the pod range 10.244.0.0/16"))
		out, err = helm("template", "kybern", chart, "--namespace", namespace, "--set", "admission.podSecurityDefaultLevel=lax")
		Expect(err).To(HaveOccurred())
		Expect(out).To(ContainSubstring("podSecurityDefaultLevel"))
	})

	It("installs, runs the manager on the chart's ServiceAccount, upgrades and uninstalls keeping the CRDs", func() {
		out, err := helm("install", "kybern", chart, "--namespace", namespace, "--create-namespace")
		Expect(err).NotTo(HaveOccurred(), out)
		Expect(out).To(ContainSubstring("Join a node"))
		out, err = env.Kubectl(ctx, "wait", "--for", "condition=Established", "--timeout=60s", "crd/pods.core.kybern.io", "crd/deployments.apps.kybern.io")
		Expect(err).NotTo(HaveOccurred(), out)
		token := bootstrapToken()
		cert := secretData("kybern-manager-webhook-cert")

		By("running the built manager with a token of the chart's ServiceAccount: its RBAC must be enough")
		manager := startManagerAs(managerToken())
		DeferCleanup(func() { manager.Terminate().Wait("20s") })
		Eventually(func(g Gomega) {
			lease, err := clientset.CoordinationV1().Leases(namespace).Get(ctx, "kybern-manager", metav1.GetOptions{})
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(lease.Spec.HolderIdentity).NotTo(BeNil())
		}).Should(Succeed(), "the manager leads through its Lease in kybern-system")
		ns, err := env.NewNamespace(ctx, "helm")
		Expect(err).NotTo(HaveOccurred())
		// kube-controller-manager gives every namespace its default account on a cluster.
		_, err = clientset.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default"}}, metav1.CreateOptions{})
		Expect(err).NotTo(HaveOccurred())
		k8s := env.Client
		rs := &appsv1alpha1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "web"}}
		rs.Spec.Replicas = ptr.To[int32](3)
		rs.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}
		rs.Spec.Template.Labels = map[string]string{"app": "web"}
		rs.Spec.Template.Spec.Containers = []corev1.Container{{Name: "web", Image: "busybox"}}
		Eventually(func() error { return k8s.Create(ctx, rs) }).Should(Succeed(), "admission answers once the manager registered it")
		Eventually(func(g Gomega) {
			var pods corev1alpha1.PodList
			g.Expect(k8s.List(ctx, &pods, client.InNamespace(ns))).To(Succeed())
			g.Expect(pods.Items).To(HaveLen(3))
			for _, p := range pods.Items {
				g.Expect(p.Spec.Volumes).To(ContainElement(HaveField("Name", HavePrefix("kube-api-access-"))), "admission gave each pod its token volume")
			}
		}).Should(Succeed())

		By("upgrading with changed values, keeping the bootstrap token and the webhook certificate")
		out, err = helm("upgrade", "kybern", chart, "--namespace", namespace, "--set", "replicas=1")
		Expect(err).NotTo(HaveOccurred(), out)
		d, err := clientset.AppsV1().Deployments(namespace).Get(ctx, "kybern-manager", metav1.GetOptions{})
		Expect(err).NotTo(HaveOccurred())
		Expect(d.Spec.Replicas).To(HaveValue(Equal(int32(1))))
		Expect(bootstrapToken()).To(Equal(token))
		Expect(secretData("kybern-manager-webhook-cert")).To(Equal(cert))

		By("uninstalling: the release's objects go, the CRDs and their objects stay")
		out, err = helm("uninstall", "kybern", "--namespace", namespace, "--wait")
		Expect(err).NotTo(HaveOccurred(), out)
		_, err = clientset.AppsV1().Deployments(namespace).Get(ctx, "kybern-manager", metav1.GetOptions{})
		Expect(err).To(HaveOccurred())
		Expect(k8s.Get(ctx, client.ObjectKeyFromObject(rs), &appsv1alpha1.ReplicaSet{})).To(Succeed())
		leases, err := clientset.CoreV1().Namespaces().Get(ctx, corev1alpha1.NodeLeaseNamespace, metav1.GetOptions{})
		Expect(err).NotTo(HaveOccurred())
		Expect(leases.DeletionTimestamp).To(BeNil(), "the node Lease namespace is kept")
	})
	It("renders every values example into objects the apiserver accepts (server-side dry run)", func() {
		// After the release: a dry run cannot create a namespace and fill it, and the
		// release left both of the chart's (its own, and the kept kybern-node-lease).
		for _, values := range valuesExamples() {
			rendered, err := helm(withValues([]string{"template", "kybern", chart, "--namespace", namespace, "--include-crds"}, values)...)
			Expect(err).NotTo(HaveOccurred(), "%s: %s", values, rendered)
			apply := exec.CommandContext(ctx, env.KubectlPath, "--kubeconfig", env.Kubeconfig, "apply", "--server-side", "--dry-run=server", "-f", "-")
			apply.Stdin = strings.NewReader(rendered)
			out, err := apply.CombinedOutput()
			Expect(err).NotTo(HaveOccurred(), "%s: %s", values, out)
			Expect(string(out)).To(ContainSubstring("deployment.apps/kybern-manager serverside-applied (server dry run)"))
		}
	})

})

// bootstrapToken is the token the release keeps for node agents: "<id>.<secret>".
func bootstrapToken() string {
	secrets, err := clientset.CoreV1().Secrets(metav1.NamespaceSystem).List(ctx, metav1.ListOptions{LabelSelector: "kybern.io/bootstrap-token"})
	Expect(err).NotTo(HaveOccurred())
	Expect(secrets.Items).To(HaveLen(1))
	s := secrets.Items[0]
	Expect(s.Type).To(Equal(corev1.SecretTypeBootstrapToken))
	Expect(string(s.Data["auth-extra-groups"])).To(Equal("system:bootstrappers:kybern"))
	return string(s.Data["token-id"]) + "." + string(s.Data["token-secret"])
}

func secretData(name string) map[string][]byte {
	s, err := clientset.CoreV1().Secrets(namespace).Get(ctx, name, metav1.GetOptions{})
	Expect(err).NotTo(HaveOccurred())
	return s.Data
}

// managerToken is a token of the chart's ServiceAccount, from the TokenRequest API.
func managerToken() string {
	tr, err := clientset.CoreV1().ServiceAccounts(namespace).CreateToken(ctx, "kybern-manager",
		&authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr.To[int64](3600)}}, metav1.CreateOptions{})
	Expect(err).NotTo(HaveOccurred())
	return tr.Status.Token
}

// startManagerAs runs the built manager as the chart runs it, with token as its only
// credential; the admission webhook serves on loopback, which the suite's apiserver
// reaches where it could not reach a Service.
func startManagerAs(token string) *gexec.Session {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["kybern"] = &clientcmdapi.Cluster{Server: env.Config.Host, CertificateAuthorityData: env.Config.CAData}
	cfg.AuthInfos["manager"] = &clientcmdapi.AuthInfo{Token: token}
	cfg.Contexts["manager"] = &clientcmdapi.Context{Cluster: "kybern", AuthInfo: "manager"}
	cfg.CurrentContext = "manager"
	kubeconfig := filepath.Join(GinkgoT().TempDir(), "kubeconfig")
	Expect(clientcmd.WriteToFile(*cfg, kubeconfig)).To(Succeed())
	webhook, err := testenv.FreeLoopbackAddr()
	Expect(err).NotTo(HaveOccurred())
	health, err := testenv.FreeLoopbackAddr()
	Expect(err).NotTo(HaveOccurred())
	cmd := exec.Command(managerBin, "--kubeconfig", kubeconfig, "--leader-elect", "--leader-election-namespace", namespace,
		"--metrics-bind-address", "0", "--health-probe-bind-address", health, "--webhook-bind-address", webhook)
	cmd.Env = append(os.Environ(), "KUBECONFIG=")
	s, err := gexec.Start(cmd, GinkgoWriter, GinkgoWriter)
	Expect(err).NotTo(HaveOccurred())
	return s
}
