package helm_test

import (
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gexec"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	metricsv1beta1 "k8s.io/metrics/pkg/apis/metrics/v1beta1"
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

	It("refuses, naming the fix, another namespace, ranges that overlap or have host bits, and an unknown security level", func() {
		out, err := helm("template", "kybern", chart, "--namespace", "default")
		Expect(err).To(HaveOccurred())
		Expect(out).To(ContainSubstring("kybern installs into the namespace kybern-system"))
		for _, tc := range []struct{ values, want string }{
			{"serviceClusterIPRange=10.244.0.0/16", "serviceClusterIPRange 10.244.0.0/16 overlaps clusterCIDR 10.244.0.0/16"},
			{"clusterCIDR=10.0.0.0/8", "serviceClusterIPRange 10.96.0.0/16 overlaps clusterCIDR 10.0.0.0/8"},
			{"serviceClusterIPRange=10.244.128.0/20", "overlaps clusterCIDR"},
			{"clusterCIDR=10.96.64.0/18", "overlaps clusterCIDR"},
			{"clusterCIDR=10.244.1.0/16", "clusterCIDR 10.244.1.0/16 has host bits set"},
			{"clusterCIDR=10.244.0.0/25", "clusterCIDR"},
			{"serviceClusterIPRange=300.1.0.0/16", "serviceClusterIPRange"},
		} {
			out, err = helm("template", "kybern", chart, "--namespace", namespace, "--set", tc.values)
			Expect(err).To(HaveOccurred(), tc.values)
			Expect(out).To(ContainSubstring(tc.want), tc.values)
		}
		out, err = helm("template", "kybern", chart, "--namespace", namespace, "--set", "clusterCIDR=172.16.0.0/12,serviceClusterIPRange=10.96.0.0/12")
		Expect(err).NotTo(HaveOccurred(), out)
		Expect(out).To(And(ContainSubstring("--cluster-cidr=172.16.0.0/12"), ContainSubstring("--service-cluster-ip-range=10.96.0.0/12")))
		out, err = helm("template", "kybern", chart, "--namespace", namespace, "--set", "admission.podSecurityDefaultLevel=lax")
		Expect(err).To(HaveOccurred())
		Expect(out).To(ContainSubstring("podSecurityDefaultLevel"))
	})

	It("installs, runs the manager on the chart's ServiceAccount, joins a node with its bootstrap token, rolls out a Deployment on real containers, upgrades and uninstalls keeping the CRDs", func() {
		out, err := helm("install", "kybern", chart, "--namespace", namespace, "--create-namespace")
		Expect(err).NotTo(HaveOccurred(), out)
		Expect(out).To(ContainSubstring("Join a node"))
		notes := out
		out, err = env.Kubectl(ctx, "wait", "--for", "condition=Established", "--timeout=60s", "crd/pods.core.kybern.io", "crd/deployments.apps.kybern.io")
		Expect(err).NotTo(HaveOccurred(), out)
		token := bootstrapToken()
		cert := secretData("kybern-manager-webhook-cert")

		By("running the built manager with a token of the chart's ServiceAccount: its RBAC must be enough")
		metricsAPI := reachMetricsAPI()
		manager := startManagerAs(managerToken(), metricsAPI)
		DeferCleanup(func() { manager.Terminate().Wait("20s") })
		Eventually(func(g Gomega) {
			lease, err := clientset.CoordinationV1().Leases(namespace).Get(ctx, "kybern-manager", metav1.GetOptions{})
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(lease.Spec.HolderIdentity).NotTo(BeNil())
		}).Should(Succeed(), "the manager leads through its Lease in kybern-system")

		By("joining a node as the NOTES say, with the release's bootstrap token")
		joinNode(runJoinSteps(notes), "helm-node")
		Expect(issuedTo("kybern:node:helm-node")).To(BeNumerically(">=", 1), "the node obtained a certificate of its own")

		By("applying upstream's nginx-deployment example (apiVersion and image changed)")
		ns, err := env.NewNamespace(ctx, "helm")
		Expect(err).NotTo(HaveOccurred())
		Eventually(func() error {
			_, err := clientset.CoreV1().ServiceAccounts(ns).Get(ctx, "default", metav1.GetOptions{})
			return err
		}).Should(Succeed(), "the manager gives the namespace its default ServiceAccount")
		out, err = env.Kubectl(ctx, "apply", "--server-side", "-n", ns, "-f", filepath.Join(testenv.RepoRoot(), "config", "samples", "apps_v1alpha1_deployment.yaml"))
		Expect(err).NotTo(HaveOccurred(), out)
		d := &appsv1alpha1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "nginx-deployment"}}
		pods := rolledOut(d)
		for _, p := range pods {
			Expect(p.Spec.NodeName).To(Equal("helm-node"))
			Expect(p.Spec.Volumes).To(ContainElement(HaveField("Name", HavePrefix("kube-api-access-"))), "admission gave each pod its token volume")
			Expect(p.Status.ContainerStatuses).To(ConsistOf(HaveField("ContainerID", HavePrefix("containerd://"))))
		}
		Eventually(func() error { return httpGet(pods[0].Status.PodIP) }).Should(Succeed(), "a container's httpd answers on its pod's address")

		By("reading the pods' usage through the chart's APIService, served with the chart's certificate")
		Eventually(func(g Gomega) {
			out, err := env.Kubectl(ctx, "get", "--raw", "/apis/metrics.kybern.io/v1beta1/namespaces/"+ns+"/pods?labelSelector=app%3Dnginx")
			g.Expect(err).NotTo(HaveOccurred(), out)
			var list metricsv1beta1.PodMetricsList
			g.Expect(json.Unmarshal([]byte(out), &list)).To(Succeed())
			g.Expect(list.Items).To(HaveLen(len(pods)))
			for _, m := range list.Items {
				g.Expect(m.Containers).To(ConsistOf(HaveField("Name", "nginx")))
				mem := m.Containers[0].Usage[corev1.ResourceMemory]
				g.Expect(mem.Value()).To(BeNumerically(">", 0), "a running httpd has a working set")
			}
		}, time.Minute).Should(Succeed())

		By("rolling out a template change")
		out, err = env.Kubectl(ctx, "patch", "-n", ns, "deployments.apps.kybern.io", "nginx-deployment", "--type=json", "-p",
			`[{"op":"add","path":"/spec/template/spec/terminationGracePeriodSeconds","value":1},{"op":"add","path":"/spec/template/spec/containers/0/env","value":[{"name":"VERSION","value":"2"}]}]`)
		Expect(err).NotTo(HaveOccurred(), out)
		for _, p := range rolledOut(d) {
			Expect(p.Spec.Containers[0].Env).To(ContainElement(corev1.EnvVar{Name: "VERSION", Value: "2"}))
		}
		out, err = env.Kubectl(ctx, "scale", "-n", ns, "deployments.apps.kybern.io", "nginx-deployment", "--replicas=0")
		Expect(err).NotTo(HaveOccurred(), out)
		Eventually(func(g Gomega) {
			var left corev1alpha1.PodList
			g.Expect(env.Client.List(ctx, &left, client.InNamespace(ns))).To(Succeed())
			g.Expect(left.Items).To(BeEmpty())
		}, 2*time.Minute).Should(Succeed(), "the pods go while the release's RBAC still lets the node report")

		By("upgrading with changed values, keeping the bootstrap token and the webhook certificate")
		out, err = helm("upgrade", "kybern", chart, "--namespace", namespace, "--set", "replicas=1")
		Expect(err).NotTo(HaveOccurred(), out)
		deployment, err := clientset.AppsV1().Deployments(namespace).Get(ctx, "kybern-manager", metav1.GetOptions{})
		Expect(err).NotTo(HaveOccurred())
		Expect(deployment.Spec.Replicas).To(HaveValue(Equal(int32(1))))
		Expect(bootstrapToken()).To(Equal(token))
		Expect(secretData("kybern-manager-webhook-cert")).To(Equal(cert))

		By("uninstalling: the release's objects go, the CRDs and their objects stay")
		out, err = helm("uninstall", "kybern", "--namespace", namespace, "--wait")
		Expect(err).NotTo(HaveOccurred(), out)
		_, err = clientset.AppsV1().Deployments(namespace).Get(ctx, "kybern-manager", metav1.GetOptions{})
		Expect(err).To(HaveOccurred())
		out, err = env.Kubectl(ctx, "get", "apiservice", "v1beta1.metrics.kybern.io")
		Expect(err).To(HaveOccurred(), "the chart's APIService goes with the release, so discovery does not fail for every client:\n%s", out)
		Expect(env.Client.Get(ctx, client.ObjectKeyFromObject(d), &appsv1alpha1.Deployment{})).To(Succeed())
		leases, err := clientset.CoreV1().Namespaces().Get(ctx, corev1alpha1.NodeLeaseNamespace, metav1.GetOptions{})
		Expect(err).NotTo(HaveOccurred())
		Expect(leases.DeletionTimestamp).To(BeNil(), "the node Lease namespace is kept")
	})

	It("ships a systemd unit for node agents, printed by its NOTES, whose command line the node agent accepts", func() {
		unit, err := os.ReadFile(filepath.Join(chart, "files", "systemd", "kybern-node-agent.service"))
		Expect(err).NotTo(HaveOccurred())
		var execStart string
		for _, line := range strings.Split(string(unit), "\n") {
			if v, ok := strings.CutPrefix(line, "ExecStart="); ok {
				execStart = v
			}
		}
		Expect(execStart).NotTo(BeEmpty(), "the unit has no ExecStart")
		notes, err := helm("install", "kybern", chart, "--namespace", namespace, "--dry-run=client", "--set", "clusterCIDR=10.200.0.0/16,serviceClusterIPRange=10.100.0.0/16")
		Expect(err).NotTo(HaveOccurred(), notes)
		_, notes, _ = strings.Cut(notes, "\nNOTES:\n")
		Expect(notes).To(ContainSubstring("ExecStart=" + execStart))
		agentArgs := "--cluster-cidr=10.200.0.0/16 --service-cluster-ip-range=10.100.0.0/16"
		Expect(notes).To(ContainSubstring(`echo "NODE_AGENT_ARGS=` + agentArgs + `" > /etc/kybern/node-agent.env`))

		agent := filepath.Join(GinkgoT().TempDir(), "node-agent")
		build := exec.Command("go", "build", "-o", agent, "./node-agent")
		build.Dir = testenv.RepoRoot()
		out, err := build.CombinedOutput()
		Expect(err).NotTo(HaveOccurred(), "go build: %s", out)
		args := strings.Fields(strings.ReplaceAll(execStart, "$NODE_AGENT_ARGS", agentArgs))
		Expect(args[0]).To(Equal("/usr/local/bin/node-agent"))
		// -h after every flag: the agent prints its usage and exits 0 only if it parsed them all.
		out, err = exec.Command(agent, append(args[1:], "-h")...).CombinedOutput()
		Expect(err).NotTo(HaveOccurred(), "the node agent refuses the unit's command line: %s", out)
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

// metricsAPI is where a manager outside the cluster serves the chart's metrics API.
type metricsAPI struct {
	certDir, address string
}

// reachMetricsAPI points the chart's metrics API at a free loopback port, where the suite's
// apiserver, which has no kube-proxy to reach a Service, can call a manager outside the
// cluster: the chart's Service becomes an ExternalName for localhost (whose port the
// apiserver takes from the APIService) and its APIService names that port; helm upgrade
// puts both back. The manager serves the chart's certificate, from its Secret.
func reachMetricsAPI() metricsAPI {
	dir := GinkgoT().TempDir()
	for name, data := range secretData("kybern-manager-metrics-api-cert") {
		Expect(os.WriteFile(filepath.Join(dir, name), data, 0o600)).To(Succeed())
	}
	addr, err := testenv.FreeLoopbackAddr()
	Expect(err).NotTo(HaveOccurred())
	_, port, err := net.SplitHostPort(addr)
	Expect(err).NotTo(HaveOccurred())
	out, err := env.Kubectl(ctx, "patch", "-n", namespace, "service", "kybern-manager-metrics-api", "--type=merge", "-p",
		`{"spec":{"type":"ExternalName","externalName":"localhost","clusterIP":null,"clusterIPs":null,"ipFamilies":null,"ipFamilyPolicy":null}}`)
	Expect(err).NotTo(HaveOccurred(), out)
	out, err = env.Kubectl(ctx, "patch", "apiservice", "v1beta1.metrics.kybern.io", "--type=merge", "-p", `{"spec":{"service":{"port":`+port+`}}}`)
	Expect(err).NotTo(HaveOccurred(), out)
	return metricsAPI{certDir: dir, address: addr}
}

// startManagerAs runs the built manager as the chart runs it, with token as its only
// credential; the admission webhook serves on loopback, which the suite's apiserver
// reaches where it could not reach a Service, and so does the metrics API.
func startManagerAs(token string, api metricsAPI) *gexec.Session {
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
	// The local control plane has no kube-controller-manager: the manager stands in for its
	// parts kybern needs, as make run does (default ServiceAccounts, kube-root-ca.crt, and
	// signing node certificates with the cluster CA).
	cmd := exec.Command(managerBin, "--kubeconfig", kubeconfig, "--leader-elect", "--leader-election-namespace", namespace,
		"--metrics-bind-address", "0", "--health-probe-bind-address", health, "--webhook-bind-address", webhook,
		"--controllers", "*,serviceaccount,root-ca-cert-publisher", "--root-ca-file", env.CA.CertFile,
		"--cluster-signing-cert-file", env.CA.CertFile, "--cluster-signing-key-file", env.CA.KeyFile,
		"--metrics-api-bind-address", api.address, "--metrics-api-service", namespace+"/kybern-manager-metrics-api", "--metrics-api-cert-dir", api.certDir)
	cmd.Env = append(os.Environ(), "KUBECONFIG=")
	s, err := gexec.Start(cmd, GinkgoWriter, GinkgoWriter)
	Expect(err).NotTo(HaveOccurred())
	return s
}
