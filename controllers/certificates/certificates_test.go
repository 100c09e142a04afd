package certificates_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"path/filepath"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	authenticationv1 "k8s.io/api/authentication/v1"
	certificatesv1 "k8s.io/api/certificates/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	certutil "k8s.io/client-go/util/cert"
	"k8s.io/client-go/util/certificate/csr"
	"k8s.io/client-go/util/keyutil"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kybern/kybern/test/testenv"
)

// bootstrapper is a clientset acting as a bootstrap token of the kybern group would.
func bootstrapper() kubernetes.Interface {
	cfg := rest.CopyConfig(env.Config)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: "system:bootstrap:abcdef", Groups: []string{"system:bootstrappers", "system:bootstrappers:kybern", "system:authenticated"}}
	return kubernetes.NewForConfigOrDie(cfg)
}

// request asks, through c, for a client certificate for subject, and returns the CSR's
// name and the private key.
func request(c kubernetes.Interface, subject pkix.Name) (string, *ecdsa.PrivateKey) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	Expect(err).NotTo(HaveOccurred())
	der, err := certutil.MakeCSR(key, &subject, nil, nil)
	Expect(err).NotTo(HaveOccurred())
	name, _, err := csr.RequestCertificateWithContext(ctx, c, der, "", certificatesv1.KubeAPIServerClientSignerName, nil,
		[]certificatesv1.KeyUsage{certificatesv1.UsageDigitalSignature, certificatesv1.UsageClientAuth}, key)
	Expect(err).NotTo(HaveOccurred())
	return name, key
}

func getCSR(name string) func(Gomega) *certificatesv1.CertificateSigningRequest {
	return func(g Gomega) *certificatesv1.CertificateSigningRequest {
		got := &certificatesv1.CertificateSigningRequest{}
		g.Expect(k8s.Get(ctx, client.ObjectKey{Name: name}, got)).To(Succeed())
		return got
	}
}

// signedConfig is a rest.Config authenticating with the certificate of CSR name and key.
func signedConfig(name string, key *ecdsa.PrivateKey) *rest.Config {
	var pemCert []byte
	Eventually(func(g Gomega) []byte {
		pemCert = getCSR(name)(g).Status.Certificate
		return pemCert
	}).ShouldNot(BeEmpty())
	keyPEM, err := keyutil.MarshalPrivateKeyToPEM(key)
	Expect(err).NotTo(HaveOccurred())
	cfg := rest.AnonymousClientConfig(env.Config)
	cfg.CertData, cfg.KeyData = pemCert, keyPEM
	return cfg
}

// whoami is the user and groups the apiserver takes cfg for.
func whoami(cfg *rest.Config) authenticationv1.UserInfo {
	review, err := kubernetes.NewForConfigOrDie(cfg).AuthenticationV1().SelfSubjectReviews().Create(ctx, &authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{})
	Expect(err).NotTo(HaveOccurred())
	return review.Status.UserInfo
}

var _ = Describe("Node client certificates", func() {
	BeforeEach(func() {
		out, err := env.Kubectl(ctx, "apply", "--server-side", "-f", filepath.Join(testenv.RepoRoot(), "config", "rbac", "node-agent"))
		Expect(err).NotTo(HaveOccurred(), out)
	})

	It("are issued to a bootstrap token for a free node name, trusted by the apiserver, and renewed by the node itself", func() {
		name, key := request(bootstrapper(), pkix.Name{CommonName: "kybern:node:boot-1", Organization: []string{"kybern:nodes"}})
		Eventually(getCSR(name)).Should(HaveField("Status.Conditions", ContainElement(And(
			HaveField("Type", certificatesv1.CertificateApproved), HaveField("Reason", "AutoApproved")))))
		cfg := signedConfig(name, key)
		Expect(whoami(cfg)).To(And(HaveField("Username", "kybern:node:boot-1"), HaveField("Groups", ContainElement("kybern:nodes"))))

		certs, err := certutil.ParseCertsPEM(cfg.CertData)
		Expect(err).NotTo(HaveOccurred())
		Expect(certs[0].ExtKeyUsage).To(Equal([]x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}))
		Expect(certs[0].NotAfter).To(BeTemporally("~", time.Now().Add(365*24*time.Hour), time.Hour))

		By("renewing with the certificate it holds")
		renewed, renewedKey := request(kubernetes.NewForConfigOrDie(cfg), pkix.Name{CommonName: "kybern:node:boot-1", Organization: []string{"kybern:nodes"}})
		Expect(whoami(signedConfig(renewed, renewedKey))).To(HaveField("Username", "kybern:node:boot-1"))
	})

	It("are refused to a bootstrap token for a live node's name, and left alone for other identities", func() {
		now := metav1.NewMicroTime(time.Now())
		lease := &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Namespace: "kybern-node-lease", Name: "boot-live"},
			Spec: coordinationv1.LeaseSpec{HolderIdentity: ptr.To("boot-live"), RenewTime: &now}}
		Expect(k8s.Create(ctx, lease)).To(Succeed())
		name, _ := request(bootstrapper(), pkix.Name{CommonName: "kybern:node:boot-live", Organization: []string{"kybern:nodes"}})
		Eventually(getCSR(name)).Should(HaveField("Status.Conditions", ContainElement(And(
			HaveField("Type", certificatesv1.CertificateDenied), HaveField("Status", corev1.ConditionTrue),
			HaveField("Message", ContainSubstring("node boot-live is held by a live node agent"))))))

		other, _ := request(bootstrapper(), pkix.Name{CommonName: "alice", Organization: []string{"developers"}})
		Consistently(getCSR(other), "2s").Should(HaveField("Status.Conditions", BeEmpty()))
	})
})
