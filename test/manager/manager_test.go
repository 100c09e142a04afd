package manager_test

import (
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gbytes"
	"github.com/onsi/gomega/gexec"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/kybern/kybern/test/testenv"
)

// freeAddr returns a loopback address no one listens on now.
func freeAddr() string {
	addr, err := testenv.FreeLoopbackAddr()
	Expect(err).NotTo(HaveOccurred())
	return addr
}

func startManager(args ...string) *gexec.Session {
	// No admission webhook unless args ask for one (the last value of a flag wins): its
	// registration would outlive the manager and refuse the next spec's objects.
	cmd := exec.Command(managerBin, append([]string{"--kubeconfig", env.Kubeconfig, "--webhook-bind-address", "0"}, args...)...)
	s, err := gexec.Start(cmd, GinkgoWriter, GinkgoWriter)
	Expect(err).NotTo(HaveOccurred())
	return s
}

func get(url string) (int, string) {
	resp, err := http.Get(url)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// getMetrics reads the manager's metrics at addr over HTTPS with a bearer token (none when
// empty); the server's certificate is the one the manager made itself.
func getMetrics(addr, token string) (int, string) {
	req, err := http.NewRequest(http.MethodGet, "https://"+addr+"/metrics", nil)
	Expect(err).NotTo(HaveOccurred())
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	// The manager made its certificate itself at start: there is no CA to check it against.
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	resp, err := c.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// serviceAccountToken is a token of a new service account, bound to clusterRole unless
// that is empty.
func serviceAccountToken(name, clusterRole string) string {
	ns, err := env.NewNamespace(ctx, "metrics")
	Expect(err).NotTo(HaveOccurred())
	sa, err := clientset.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	Expect(err).NotTo(HaveOccurred())
	if clusterRole != "" {
		binding := &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{GenerateName: name + "-"},
			RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: clusterRole},
			Subjects: []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: sa.Name, Namespace: ns}}}
		_, err = clientset.RbacV1().ClusterRoleBindings().Create(ctx, binding, metav1.CreateOptions{})
		Expect(err).NotTo(HaveOccurred())
	}
	tr, err := clientset.CoreV1().ServiceAccounts(ns).CreateToken(ctx, sa.Name, &authenticationv1.TokenRequest{}, metav1.CreateOptions{})
	Expect(err).NotTo(HaveOccurred())
	return tr.Status.Token
}

// metricsReaderToken installs config/rbac's metrics reader role and returns a token of a
// service account bound to it.
func metricsReaderToken() string {
	raw, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "config", "rbac", "metrics_reader_role.yaml"))
	Expect(err).NotTo(HaveOccurred())
	role := &rbacv1.ClusterRole{}
	Expect(yaml.Unmarshal(raw, role)).To(Succeed())
	if _, err := clientset.RbacV1().ClusterRoles().Create(ctx, role, metav1.CreateOptions{}); !apierrors.IsAlreadyExists(err) {
		Expect(err).NotTo(HaveOccurred())
	}
	return serviceAccountToken("prometheus", role.Name)
}

var _ = Describe("The manager", func() {
	It("serves metrics over HTTPS to callers authorised for them, and refuses anonymous and unauthorised ones", func() {
		metrics := freeAddr()
		s := startManager("--health-probe-bind-address", "0", "--metrics-bind-address", metrics, "--leader-elect=false")
		reader, stranger := metricsReaderToken(), serviceAccountToken("stranger", "")
		Eventually(func() string { _, body := getMetrics(metrics, reader); return body }, "30s").Should(ContainSubstring("rest_client_requests_total"))
		code, body := getMetrics(metrics, "")
		Expect(code).To(Equal(http.StatusUnauthorized), body)
		code, body = getMetrics(metrics, stranger)
		Expect(code).To(Equal(http.StatusForbidden), body)
		code, body = get("http://" + metrics + "/metrics")
		Expect(code).To(Equal(http.StatusBadRequest), "plain HTTP: %s", body)

		s.Signal(syscall.SIGTERM)
		Eventually(s, "40s").Should(gexec.Exit(0))
	})

	It("serves probes and metrics, takes the leader lease, and stops cleanly on SIGTERM", func() {
		probes, metrics := freeAddr(), freeAddr()
		s := startManager("--health-probe-bind-address", probes, "--metrics-bind-address", metrics,
			"--leader-elect", "--leader-election-namespace", "default", "--leader-election-id", "kybern-manager-test")

		Eventually(func() int { code, _ := get("http://" + probes + "/readyz"); return code }, "30s").Should(Equal(http.StatusOK))
		code, body := get("http://" + probes + "/healthz")
		Expect(code).To(Equal(http.StatusOK), body)
		reader := metricsReaderToken()
		Eventually(func() string { _, body := getMetrics(metrics, reader); return body }, "10s").Should(ContainSubstring("rest_client_requests_total"))

		Eventually(func(g Gomega) {
			lease, err := clientset.CoordinationV1().Leases("default").Get(ctx, "kybern-manager-test", metav1.GetOptions{})
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(lease.Spec.HolderIdentity).To(HaveValue(Not(BeEmpty())))
		}, "30s").Should(Succeed())

		s.Signal(syscall.SIGTERM)
		Eventually(s, "40s").Should(gexec.Exit(0))
	})

	It("lets a second replica wait while the first leads", func() {
		first := startManager("--health-probe-bind-address", freeAddr(), "--metrics-bind-address", "0",
			"--leader-elect", "--leader-election-namespace", "default", "--leader-election-id", "kybern-two")
		Eventually(first.Err, "30s").Should(gbytes.Say("Successfully acquired lease"))

		second := startManager("--health-probe-bind-address", freeAddr(), "--metrics-bind-address", "0",
			"--leader-elect", "--leader-election-namespace", "default", "--leader-election-id", "kybern-two")
		Eventually(second.Err, "30s").Should(gbytes.Say("Attempting to acquire leader lease"))
		Consistently(second.Err, "3s").ShouldNot(gbytes.Say("Successfully acquired lease"))

		first.Signal(syscall.SIGTERM)
		Eventually(first, "40s").Should(gexec.Exit(0))
		Eventually(second.Err, "60s").Should(gbytes.Say("Successfully acquired lease"))
		second.Signal(syscall.SIGTERM)
		Eventually(second, "40s").Should(gexec.Exit(0))
	})

	DescribeTable("refuses flags that cannot work, naming the flag",
		func(want string, args ...string) {
			s := startManager(append([]string{"--metrics-bind-address", "0", "--health-probe-bind-address", "0"}, args...)...)
			Eventually(s, "20s").Should(gexec.Exit(1))
			Expect(string(s.Err.Contents())).To(ContainSubstring(want))
		},
		Entry("zero concurrency", "--concurrent-deployment-syncs=0: must be at least 1", "--leader-elect=false", "--concurrent-deployment-syncs=0"),
		Entry("zero QPS", "--kube-api-qps=0: must be greater than 0", "--leader-elect=false", "--kube-api-qps=0"),
		Entry("leader election outside a cluster without a namespace", "--leader-election-namespace is required outside a cluster", "--leader-elect"),
		Entry("a renew deadline as long as the lease", "--leader-elect-lease-duration=10s: must be longer than --leader-elect-renew-deadline=10s",
			"--leader-election-namespace=default", "--leader-elect-lease-duration=10s"),
		Entry("a retry period too close to the renew deadline", "--leader-elect-renew-deadline=10s: must be longer than 1.2 times --leader-elect-retry-period=9s",
			"--leader-election-namespace=default", "--leader-elect-retry-period=9s"),
	)

	It("says the CRDs are missing, and how to install them, on a cluster without them", func() {
		bare, err := testenv.Start(GinkgoT().TempDir())
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(bare.Stop)
		cmd := exec.Command(managerBin, "--kubeconfig", bare.Kubeconfig, "--leader-elect=false", "--metrics-bind-address", "0", "--health-probe-bind-address", "0")
		s, err := gexec.Start(cmd, GinkgoWriter, GinkgoWriter)
		Expect(err).NotTo(HaveOccurred())
		Eventually(s, "30s").Should(gexec.Exit(1))
		Expect(string(s.Err.Contents())).To(ContainSubstring("kybern's CRDs are not installed; run make install"))
	})

	It("names both address flags when its port is taken", func() {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		Expect(err).NotTo(HaveOccurred())
		defer l.Close()
		s := startManager("--leader-elect=false", "--metrics-bind-address", "0", "--health-probe-bind-address", l.Addr().String())
		Eventually(s, "20s").Should(gexec.Exit(1))
		Expect(string(s.Err.Contents())).To(ContainSubstring(fmt.Sprintf("--health-probe-bind-address=%s", l.Addr())))
	})
})
