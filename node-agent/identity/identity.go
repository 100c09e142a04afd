// Package identity gives a node agent a client certificate of its own, as the kubelet's
// TLS bootstrapping does: with a bootstrap credential (a bootstrap token's kubeconfig) it
// asks for a certificate for kybern:node:<node> in group kybern:nodes through a
// CertificateSigningRequest, keeps it in a directory of its own, and renews it, with the
// certificate it holds, at 70 to 90 % of its lifetime (client-go's certificate manager,
// the kubelet's). Connections are closed when the certificate changes, so that none goes
// on with one about to expire.
package identity

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/go-logr/logr"
	authenticationv1 "k8s.io/api/authentication/v1"
	certificatesv1 "k8s.io/api/certificates/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilnet "k8s.io/apimachinery/pkg/util/net"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	certutil "k8s.io/client-go/util/cert"
	"k8s.io/client-go/util/certificate"
	"k8s.io/client-go/util/certificate/csr"
	"k8s.io/client-go/util/connrotation"
	"k8s.io/client-go/util/keyutil"
	"k8s.io/utils/ptr"

	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
)

// pairName names the files of the certificate store: kybern-node-client-current.pem.
const pairName = "kybern-node-client"

// usages are a node client certificate's.
var usages = []certificatesv1.KeyUsage{certificatesv1.UsageDigitalSignature, certificatesv1.UsageClientAuth}

// Check fails when cfg authenticates as a node other than node, naming the fix: an
// agent's --node-name must be its credential's.
func Check(ctx context.Context, cfg *rest.Config, node string) error {
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	review, err := client.AuthenticationV1().SelfSubjectReviews().Create(ctx, &authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{})
	if err != nil {
		return fmt.Errorf("asking the apiserver who --kubeconfig is: %w", err)
	}
	user := review.Status.UserInfo.Username
	if strings.HasPrefix(user, corev1alpha1.NodeUserPrefix) && user != corev1alpha1.NodeUser(node) {
		return fmt.Errorf("--kubeconfig authenticates as %s, not as --node-name=%s: start the agent with --node-name=%s, or with the credential of %s", user, node, strings.TrimPrefix(user, corev1alpha1.NodeUserPrefix), corev1alpha1.NodeUser(node))
	}
	return nil
}

// Start returns a config that authenticates to bootstrap's apiserver as node with the
// certificate in certDir, asking for one with bootstrap's credential first when certDir
// holds none that is valid, and keeps renewing it until ctx ends. A request the manager
// denies (the node name is a live node's) is an error naming why; so is a certificate
// in certDir for another node.
func Start(ctx context.Context, node, certDir string, bootstrap *rest.Config, log logr.Logger) (*rest.Config, error) {
	store, err := certificate.NewFileStore(pairName, certDir, certDir, "", "")
	if err != nil {
		return nil, fmt.Errorf("--cert-dir=%s: %w", certDir, err)
	}
	current, err := store.Current()
	var noCert *certificate.NoCertKeyError
	switch {
	case errors.As(err, &noCert) || err == nil && time.Now().After(current.Leaf.NotAfter):
		log.Info("Asking for a client certificate with the bootstrap credential", "user", corev1alpha1.NodeUser(node))
		if current, err = bootstrapCertificate(ctx, node, bootstrap, store); err != nil {
			return nil, err
		}
	case err != nil:
		return nil, fmt.Errorf("--cert-dir=%s: %w", certDir, err)
	case current.Leaf.Subject.CommonName != corev1alpha1.NodeUser(node):
		return nil, fmt.Errorf("--cert-dir=%s holds the certificate of %s, not of --node-name=%s: start the agent with --node-name=%s, or empty the directory to join anew as %s",
			certDir, current.Leaf.Subject.CommonName, node, strings.TrimPrefix(current.Leaf.Subject.CommonName, corev1alpha1.NodeUserPrefix), node)
	}
	log.Info("Using client certificate", "user", current.Leaf.Subject.CommonName, "notAfter", current.Leaf.NotAfter)

	server := rest.AnonymousClientConfig(bootstrap)
	mgr, err := certificate.NewManager(&certificate.Config{
		Name:             pairName,
		Template:         &x509.CertificateRequest{Subject: subject(node)},
		SignerName:       certificatesv1.KubeAPIServerClientSignerName,
		Usages:           usages,
		CertificateStore: store,
		ClientsetFn: func(cert *tls.Certificate) (kubernetes.Interface, error) {
			if cert == nil {
				return kubernetes.NewForConfig(bootstrap)
			}
			return kubernetes.NewForConfig(withCertificate(server, cert))
		},
	})
	if err != nil {
		return nil, err
	}
	mgr.Start()
	context.AfterFunc(ctx, mgr.Stop)
	return rotating(ctx, server, mgr, log)
}

func subject(node string) pkix.Name {
	return pkix.Name{CommonName: corev1alpha1.NodeUser(node), Organization: []string{corev1alpha1.NodeGroup}}
}

// bootstrapCertificate asks for node's first certificate with bootstrap's credential,
// waits until it is issued or refused, and stores it.
func bootstrapCertificate(ctx context.Context, node string, bootstrap *rest.Config, store certificate.Store) (*tls.Certificate, error) {
	client, err := kubernetes.NewForConfig(bootstrap)
	if err != nil {
		return nil, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	request, err := certutil.MakeCSR(key, ptr.To(subject(node)), nil, nil)
	if err != nil {
		return nil, err
	}
	name, uid, err := csr.RequestCertificateWithContext(ctx, client, request, "", certificatesv1.KubeAPIServerClientSignerName, nil, usages, key)
	if err != nil {
		return nil, fmt.Errorf("asking for the client certificate of %s with the bootstrap credential: %w", corev1alpha1.NodeUser(node), err)
	}
	certPEM, err := csr.WaitForCertificate(ctx, client, name, uid)
	if err != nil {
		return nil, fmt.Errorf("certificate signing request %s for %s: %w", name, corev1alpha1.NodeUser(node), err)
	}
	keyPEM, err := keyutil.MarshalPrivateKeyToPEM(key)
	if err != nil {
		return nil, err
	}
	return store.Update(certPEM, keyPEM)
}

// withCertificate is server authenticating with cert.
func withCertificate(server *rest.Config, cert *tls.Certificate) *rest.Config {
	cfg := rest.CopyConfig(server)
	for _, der := range cert.Certificate {
		cfg.CertData = append(cfg.CertData, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})...)
	}
	cfg.KeyData, _ = keyutil.MarshalPrivateKeyToPEM(cert.PrivateKey)
	return cfg
}

// rotating is server authenticating with mgr's current certificate on every new
// connection; a changed certificate closes the connections made with the old one.
func rotating(ctx context.Context, server *rest.Config, mgr certificate.Manager, log logr.Logger) (*rest.Config, error) {
	tlsConfig, err := rest.TLSConfigFor(server)
	if err != nil {
		return nil, err
	}
	if tlsConfig == nil {
		return nil, errors.New("the bootstrap kubeconfig's server is not HTTPS: a client certificate needs TLS")
	}
	tlsConfig.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
		if cert := mgr.Current(); cert != nil {
			return cert, nil
		}
		return &tls.Certificate{}, nil
	}
	dialer := connrotation.NewDialer((&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext)
	transport := utilnet.SetTransportDefaults(&http.Transport{Proxy: http.ProxyFromEnvironment, TLSHandshakeTimeout: 10 * time.Second,
		TLSClientConfig: tlsConfig, MaxIdleConnsPerHost: 25, DialContext: dialer.DialContext})
	go func() {
		last := serial(mgr.Current())
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			if s := serial(mgr.Current()); s != "" && s != last {
				log.Info("Rotated client certificate; reconnecting", "notAfter", mgr.Current().Leaf.NotAfter)
				last = s
				dialer.CloseAll()
			}
		}
	}()
	cfg := &rest.Config{Host: server.Host, APIPath: server.APIPath, Transport: transport, QPS: server.QPS, Burst: server.Burst, Timeout: server.Timeout}
	return cfg, nil
}

func serial(cert *tls.Certificate) string {
	if cert == nil || cert.Leaf == nil {
		return ""
	}
	return cert.Leaf.SerialNumber.String()
}
