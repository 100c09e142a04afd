package clusterca

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"path/filepath"

	"k8s.io/client-go/util/keyutil"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
)

// KubernetesServiceNames are the names pods reach the apiserver by, which its serving
// certificate carries as upstream's does, beside the kubernetes Service's address.
var KubernetesServiceNames = []string{"kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local"}

// KubernetesServiceIP is the address the apiserver gives the kubernetes Service: the first
// of kybern's service range, which it allocates from.
var KubernetesServiceIP = netip.MustParsePrefix(corev1alpha1.DefaultServiceClusterIPRange).Addr().Next()

// APIServer is envtest's apiserver for a control plane of this CA, writing into certDir:
//   - it allocates Services from kybern's service range, so that the kubernetes Service
//     has its first address (10.96.0.1), which the node agents send to the apiserver;
//   - it serves with a certificate of this CA for localhost, 127.0.0.1, that address and
//     KubernetesServiceNames, so that a pod verifies it with the CA the manager publishes
//     (kube-root-ca.crt) as on a kubeadm cluster;
//   - it signs service account tokens with a key kept beside the CA, so that pods' tokens
//     stay valid across a restart of make run's control plane;
//   - it aggregates API servers (frontproxy.go), such as the manager's metrics API.
func (a *Authn) APIServer(certDir string) (*envtest.APIServer, error) {
	if err := os.MkdirAll(certDir, 0o700); err != nil {
		return nil, err
	}
	if err := a.writeServingCert(certDir, []net.IP{net.ParseIP("127.0.0.1"), KubernetesServiceIP.AsSlice()}); err != nil {
		return nil, err
	}
	if err := a.writeTokenSigner(certDir); err != nil {
		return nil, err
	}
	caPEM, err := os.ReadFile(a.CertFile)
	if err != nil {
		return nil, err
	}
	api := &envtest.APIServer{CertDir: certDir, SecureServing: envtest.SecureServing{Authn: a, CA: caPEM}}
	api.Configure().Set("service-cluster-ip-range", corev1alpha1.DefaultServiceClusterIPRange)
	if err := enableAggregation(api, certDir); err != nil {
		return nil, fmt.Errorf("the apiserver's front proxy: %w", err)
	}
	return api, nil
}

// writeServingCert writes apiserver.crt and apiserver.key, the names envtest serves with
// when they exist, for ips, localhost and KubernetesServiceNames.
func (a *Authn) writeServingCert(certDir string, ips []net.IP) error {
	certPEM, keyPEM, err := a.issue(&x509.Certificate{Subject: pkix.Name{CommonName: "kube-apiserver"},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, DNSNames: append([]string{"localhost"}, KubernetesServiceNames...), IPAddresses: ips})
	if err != nil {
		return fmt.Errorf("the apiserver's serving certificate: %w", err)
	}
	if err := os.WriteFile(filepath.Join(certDir, "apiserver.key"), keyPEM, 0o600); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(certDir, "apiserver.crt"), certPEM, 0o644)
}

// writeTokenSigner writes the service account signing key, made once beside the CA, as
// sa-signer.key (the apiserver's --service-account-signing-key-file) and its public key
// as sa-signer.crt (--service-account-key-file), the names envtest passes.
func (a *Authn) writeTokenSigner(certDir string) error {
	kept := filepath.Join(filepath.Dir(a.KeyFile), "sa.key")
	if _, err := os.Stat(kept); errors.Is(err, fs.ErrNotExist) {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return err
		}
		keyPEM, err := keyutil.MarshalPrivateKeyToPEM(key)
		if err != nil {
			return err
		}
		if err := os.WriteFile(kept, keyPEM, 0o600); err != nil {
			return err
		}
	}
	keyPEM, err := os.ReadFile(kept)
	if err != nil {
		return err
	}
	parsed, err := keyutil.ParsePrivateKeyPEM(keyPEM)
	if err != nil {
		return fmt.Errorf("%s: %w", kept, err)
	}
	key, ok := parsed.(*ecdsa.PrivateKey)
	if !ok {
		return fmt.Errorf("%s: not an ECDSA key", kept)
	}
	pub, err := x509.MarshalPKIXPublicKey(key.Public())
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(certDir, "sa-signer.key"), keyPEM, 0o600); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(certDir, "sa-signer.crt"), pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}), 0o644)
}
