package server_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"os"
	"path/filepath"
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
	"github.com/kybern/kybern/node-agent/identity"
	"github.com/kybern/kybern/node-agent/server"
	"github.com/kybern/kybern/test/testenv"
)

// node is the Node whose API this suite serves, from loopback, under the node's own
// identity, with a certificate the manager's csrapproving and csrsigning controllers issue.
const node = "api-node"

var (
	env       *testenv.Env
	k8s       client.Client
	admin     kubernetes.Interface
	ctx       context.Context
	rt        *fakeRuntime
	logDir    string
	apiURL    string
	caPool    *x509.CertPool
	nodeCfg   *rest.Config
	serverLog = ctrl.Log.WithName("api")
)

func TestServer(t *testing.T) { testenv.RunSuite(t, "Node agent API suite") }

var _ = testenv.DeclareSuite(testenv.SuiteSpec{Controllers: []string{"csrapproving", "csrsigning"}}, func(s *testenv.Suite) {
	env, k8s, ctx = s.Env, s.Env.Client, s.Ctx
	var err error
	admin, err = kubernetes.NewForConfig(env.Config)
	Expect(err).NotTo(HaveOccurred())
	out, err := env.Kubectl(ctx, "apply", "--server-side", "-f", filepath.Join(testenv.RepoRoot(), "config", "rbac", "node-agent"))
	Expect(err).NotTo(HaveOccurred(), out)

	nodeCfg = rest.CopyConfig(env.Config)
	nodeCfg.Impersonate = rest.ImpersonationConfig{UserName: corev1alpha1.NodeUser(node), Groups: []string{corev1alpha1.NodeGroup, "system:authenticated"}}
	registerNode()

	pem, err := os.ReadFile(env.CA.CertFile)
	Expect(err).NotTo(HaveOccurred())
	caPool = x509.NewCertPool()
	Expect(caPool.AppendCertsFromPEM(pem)).To(BeTrue())

	getCertificate, err := identity.Serving(ctx, node, GinkgoT().TempDir(), nodeCfg, []net.IP{net.ParseIP("127.0.0.1")})
	Expect(err).NotTo(HaveOccurred())
	nodeClient, err := kubernetes.NewForConfig(nodeCfg)
	Expect(err).NotTo(HaveOccurred())
	auth, err := server.NewAuth(ctx, nodeClient, node, "")
	Expect(err).NotTo(HaveOccurred())
	pods, err := client.New(nodeCfg, client.Options{Scheme: k8s.Scheme()})
	Expect(err).NotTo(HaveOccurred())

	rt = newFakeRuntime()
	logDir = GinkgoT().TempDir()
	srv := &server.Server{Node: node, Runtime: rt, NodeStats: rt, Pods: pods, LogDir: logDir, Auth: auth, Log: serverLog}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	Expect(err).NotTo(HaveOccurred())
	apiURL = "https://" + l.Addr().String()
	go func() {
		defer GinkgoRecover()
		Expect(srv.Serve(ctx, l, getCertificate)).To(Succeed())
	}()
	// The API serves once the node's serving certificate is issued.
	Eventually(func() error {
		conn, err := tls.Dial("tcp", l.Addr().String(), &tls.Config{RootCAs: caPool, MinVersion: tls.VersionTLS12})
		if err == nil {
			conn.Close()
		}
		return err
	}).Should(Succeed())
})

// registerNode creates the Node with the address its serving certificate names, as its
// agent would.
func registerNode() {
	n := &corev1alpha1.Node{ObjectMeta: metav1.ObjectMeta{Name: node}}
	Expect(k8s.Create(ctx, n)).To(Succeed())
	n.Status.Addresses = []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "127.0.0.1"}, {Type: corev1.NodeHostName, Address: node}}
	Expect(k8s.Status().Update(ctx, n)).To(Succeed())
}
