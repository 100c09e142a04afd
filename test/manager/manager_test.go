package manager_test

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"syscall"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gbytes"
	"github.com/onsi/gomega/gexec"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

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

var _ = Describe("The manager", func() {
	It("serves probes and metrics, takes the leader lease, and stops cleanly on SIGTERM", func() {
		probes, metrics := freeAddr(), freeAddr()
		s := startManager("--health-probe-bind-address", probes, "--metrics-bind-address", metrics,
			"--leader-elect", "--leader-election-namespace", "default", "--leader-election-id", "kybern-manager-test")

		Eventually(func() int { code, _ := get("http://" + probes + "/readyz"); return code }, "30s").Should(Equal(http.StatusOK))
		code, body := get("http://" + probes + "/healthz")
		Expect(code).To(Equal(http.StatusOK), body)
		Eventually(func() string { _, body := get("http://" + metrics + "/metrics"); return body }, "10s").Should(ContainSubstring("rest_client_requests_total"))

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
