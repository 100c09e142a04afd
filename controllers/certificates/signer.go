package certificates

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	certutil "k8s.io/client-go/util/cert"
	"k8s.io/client-go/util/keyutil"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/kybern/kybern/controllers/internal/setup"
)

// Signer signs approved kubernetes.io/kube-apiserver-client requests with the cluster CA.
type Signer struct {
	client.Client
	Clock  clock.PassiveClock
	CA     *x509.Certificate
	Key    crypto.Signer
	MaxTTL time.Duration
}

// SetupSigner registers the csrsigning controller when the manager was given the cluster
// CA, and nothing otherwise: then the cluster's own controller manager signs.
func SetupSigner(_ context.Context, mgr ctrl.Manager, cfg setup.Config) error {
	if cfg.ClusterSigningCertFile == "" && cfg.ClusterSigningKeyFile == "" {
		return nil
	}
	ca, key, err := LoadCA(cfg.ClusterSigningCertFile, cfg.ClusterSigningKeyFile)
	if err != nil {
		return err
	}
	ttl := cfg.ClusterSigningDuration
	if ttl == 0 {
		ttl = DefaultSigningDuration
	}
	return ctrl.NewControllerManagedBy(mgr).
		For(&certificatesv1.CertificateSigningRequest{}).
		Named("csrsigning").
		Complete(&Signer{Client: mgr.GetClient(), Clock: cfg.Clock, CA: ca, Key: key, MaxTTL: ttl})
}

// DefaultSigningDuration is kube-controller-manager's --cluster-signing-duration.
const DefaultSigningDuration = 365 * 24 * time.Hour

// LoadCA reads a CA certificate and its private key from PEM files.
func LoadCA(certFile, keyFile string) (*x509.Certificate, crypto.Signer, error) {
	if certFile == "" || keyFile == "" {
		return nil, nil, fmt.Errorf("--cluster-signing-cert-file=%q and --cluster-signing-key-file=%q: give both, or neither", certFile, keyFile)
	}
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		return nil, nil, fmt.Errorf("--cluster-signing-cert-file: %w", err)
	}
	certs, err := certutil.ParseCertsPEM(certPEM)
	if err != nil {
		return nil, nil, fmt.Errorf("--cluster-signing-cert-file=%s: %w", certFile, err)
	}
	keyPEM, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, nil, fmt.Errorf("--cluster-signing-key-file: %w", err)
	}
	key, err := keyutil.ParsePrivateKeyPEM(keyPEM)
	if err != nil {
		return nil, nil, fmt.Errorf("--cluster-signing-key-file=%s: %w", keyFile, err)
	}
	signer, ok := key.(crypto.Signer)
	if !ok || !certs[0].IsCA {
		return nil, nil, fmt.Errorf("--cluster-signing-cert-file=%s and --cluster-signing-key-file=%s: want a CA certificate and its private key", certFile, keyFile)
	}
	return certs[0], signer, nil
}

// +kubebuilder:rbac:groups=certificates.k8s.io,resources=certificatesigningrequests/status,verbs=update
// +kubebuilder:rbac:groups=certificates.k8s.io,resources=signers,verbs=sign,resourceNames=kubernetes.io/kube-apiserver-client;kubernetes.io/kubelet-serving

// Reconcile signs one approved request that has no certificate yet, or marks it Failed
// when it cannot be signed.
func (s *Signer) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	csr := &certificatesv1.CertificateSigningRequest{}
	if err := s.Get(ctx, req.NamespacedName, csr); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	serving := csr.Spec.SignerName == certificatesv1.KubeletServingSignerName
	if (!serving && csr.Spec.SignerName != certificatesv1.KubeAPIServerClientSignerName) || len(csr.Status.Certificate) > 0 || !approvedOnly(csr) {
		return ctrl.Result{}, nil
	}
	parsed, err := parseRequest(csr)
	if err == nil && serving {
		err = validServing(csr, parsed)
	}
	if err == nil {
		csr.Status.Certificate, err = s.sign(csr, parsed)
	}
	if err != nil {
		csr.Status.Conditions = append(csr.Status.Conditions, certificatesv1.CertificateSigningRequestCondition{
			Type: certificatesv1.CertificateFailed, Status: corev1.ConditionTrue, Reason: "SignerValidationFailure",
			Message: err.Error(), LastUpdateTime: metav1.NewTime(s.Clock.Now())})
	} else {
		log.FromContext(ctx).Info("Signed certificate", "signer", csr.Spec.SignerName, "commonName", parsed.Subject.CommonName)
	}
	if err := s.Status().Update(ctx, csr); err != nil && !apierrors.IsConflict(err) {
		return ctrl.Result{}, err
	}
	return ctrl.Result{}, nil
}

// sign issues the certificate for req: its subject, client auth (server auth and the
// requested names for kubernetes.io/kubelet-serving), valid from slightly
// before now (clocks differ) for the shorter of MaxTTL and the requested expirationSeconds.
func (s *Signer) sign(csr *certificatesv1.CertificateSigningRequest, req *x509.CertificateRequest) ([]byte, error) {
	ttl := s.MaxTTL
	if e := csr.Spec.ExpirationSeconds; e != nil && time.Duration(*e)*time.Second < ttl {
		ttl = time.Duration(*e) * time.Second
	}
	now := s.Clock.Now()
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return nil, err
	}
	usage := x509.KeyUsageDigitalSignature
	for _, u := range csr.Spec.Usages {
		if u == certificatesv1.UsageKeyEncipherment {
			usage |= x509.KeyUsageKeyEncipherment
		}
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial, Subject: req.Subject,
		NotBefore: now.Add(-min(5*time.Minute, ttl/10)), NotAfter: now.Add(ttl),
		KeyUsage: usage, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, BasicConstraintsValid: true,
	}
	if csr.Spec.SignerName == certificatesv1.KubeletServingSignerName {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.DNSNames, tmpl.IPAddresses = req.DNSNames, req.IPAddresses
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, s.CA, req.PublicKey, s.Key)
	if err != nil {
		return nil, fmt.Errorf("signing: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), nil
}

// approvedOnly tells whether csr is approved and neither denied nor failed.
func approvedOnly(csr *certificatesv1.CertificateSigningRequest) bool {
	approved := false
	for _, c := range csr.Status.Conditions {
		switch c.Type {
		case certificatesv1.CertificateApproved:
			approved = c.Status == corev1.ConditionTrue
		case certificatesv1.CertificateDenied, certificatesv1.CertificateFailed:
			return false
		}
	}
	return approved
}
