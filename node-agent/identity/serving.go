package identity

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"net"

	certificatesv1 "k8s.io/api/certificates/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/util/certificate"
)

// servingPairName names the serving certificate's files: kybern-node-server-current.pem.
const servingPairName = "kybern-node-server"

// The subject of a node's serving certificate: upstream's kubelet-serving form, which a
// cluster's own kube-controller-manager also signs. It authenticates no one: the
// certificate is for server auth only.
const (
	servingUserPrefix = "system:node:"
	servingGroup      = "system:nodes"
)

// servingUsages are a kubelet serving certificate's, for an ECDSA key.
var servingUsages = []certificatesv1.KeyUsage{certificatesv1.UsageDigitalSignature, certificatesv1.UsageServerAuth}

// Serving obtains and renews node's serving certificate, as the kubelet with
// serverTLSBootstrap does: a CertificateSigningRequest of signer
// kubernetes.io/kubelet-serving for the node's name and ips, made with cfg (the node's
// own credential, which kybern's csrapproving controller approves for the names the
// Node reports), kept in certDir. The certificate is renewed with the same request at 70
// to 90 % of its lifetime until ctx ends. GetCertificate fails until the first one is
// issued.
func Serving(ctx context.Context, node, certDir string, cfg *rest.Config, ips []net.IP) (func(*tls.ClientHelloInfo) (*tls.Certificate, error), error) {
	store, err := certificate.NewFileStore(servingPairName, certDir, certDir, "", "")
	if err != nil {
		return nil, fmt.Errorf("--cert-dir=%s: %w", certDir, err)
	}
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	mgr, err := certificate.NewManager(&certificate.Config{
		Name: servingPairName,
		Template: &x509.CertificateRequest{
			Subject:  pkix.Name{CommonName: servingUserPrefix + node, Organization: []string{servingGroup}},
			DNSNames: []string{node}, IPAddresses: ips,
		},
		SignerName:       certificatesv1.KubeletServingSignerName,
		Usages:           servingUsages,
		CertificateStore: store,
		ClientsetFn:      func(*tls.Certificate) (kubernetes.Interface, error) { return client, nil },
	})
	if err != nil {
		return nil, err
	}
	mgr.Start()
	context.AfterFunc(ctx, mgr.Stop)
	return func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
		if cert := mgr.Current(); cert != nil {
			return cert, nil
		}
		return nil, errors.New("no serving certificate yet: its CertificateSigningRequest (signer kubernetes.io/kubelet-serving) awaits approval")
	}, nil
}
