// Package clusterca is the CA of kybern's local control planes (make run's and the tests'):
// an envtest authenticator whose CA is kept in files, so that the manager's csrsigning
// controller can sign client certificates the apiserver trusts, as kube-controller-manager
// signs with a kubeadm cluster's CA. It also turns on bootstrap token authentication, as
// kubeadm does, for node agents to join with, and (serving.go) gives the apiserver a
// serving certificate of the same CA, which pods verify, and a kept token signing key.
package clusterca

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/util/keyutil"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/kybern/kybern/controllers/certificates"
)

// Authn authenticates clients by certificates of its CA; it is an envtest.Authn.
type Authn struct {
	// CertFile and KeyFile hold the CA, for the manager's --cluster-signing-* flags.
	CertFile, KeyFile string
	ca                *x509.Certificate
	key               crypto.Signer
}

var _ envtest.Authn = (*Authn)(nil)

// New loads the CA from dir (ca.crt, ca.key), making it first if dir has none.
func New(dir string) (*Authn, error) { return load(dir, "kybern-cluster-ca") }

// load loads the CA in dir, making one called name first if dir has none.
func load(dir, name string) (*Authn, error) {
	a := &Authn{CertFile: filepath.Join(dir, "ca.crt"), KeyFile: filepath.Join(dir, "ca.key")}
	if _, err := os.Stat(a.CertFile); errors.Is(err, fs.ErrNotExist) {
		if err := a.create(dir, name); err != nil {
			return nil, err
		}
	}
	ca, key, err := certificates.LoadCA(a.CertFile, a.KeyFile)
	if err != nil {
		return nil, err
	}
	a.ca, a.key = ca, key
	return a, nil
}

func (a *Authn) create(dir, name string) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	now := time.Now()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(10 * 365 * 24 * time.Hour),
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature, IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return err
	}
	keyPEM, err := keyutil.MarshalPrivateKeyToPEM(key)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	if err := os.WriteFile(a.KeyFile, keyPEM, 0o600); err != nil {
		return err
	}
	return os.WriteFile(a.CertFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
}

// Configure points the apiserver at the CA and turns on bootstrap tokens.
func (a *Authn) Configure(_ string, args *envtest.Arguments) error {
	args.Set("client-ca-file", a.CertFile)
	args.Set("enable-bootstrap-token-auth", "true")
	return nil
}

// Start has nothing to start: the CA is on disk from New.
func (a *Authn) Start() error { return nil }

// Stop has nothing to stop.
func (a *Authn) Stop() error { return nil }

// AddUser is baseCfg with a client certificate of the CA for user.
func (a *Authn) AddUser(user envtest.User, baseCfg *rest.Config) (*rest.Config, error) {
	certPEM, keyPEM, err := a.issue(&x509.Certificate{Subject: pkix.Name{CommonName: user.Name, Organization: user.Groups},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
	if err != nil {
		return nil, fmt.Errorf("a client certificate for %s: %w", user.Name, err)
	}
	cfg := rest.CopyConfig(baseCfg)
	cfg.CertData, cfg.KeyData = certPEM, keyPEM
	return cfg, nil
}

// issue signs tmpl with the CA for a new P-256 key, with a random serial, valid from a
// minute ago for a year, and returns the certificate and the key in PEM.
func (a *Authn) issue(tmpl *x509.Certificate) (certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	if tmpl.SerialNumber, err = rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128)); err != nil {
		return nil, nil, err
	}
	now := time.Now()
	tmpl.NotBefore, tmpl.NotAfter, tmpl.KeyUsage = now.Add(-time.Minute), now.Add(365*24*time.Hour), x509.KeyUsageDigitalSignature
	der, err := x509.CreateCertificate(rand.Reader, tmpl, a.ca, key.Public(), a.key)
	if err != nil {
		return nil, nil, err
	}
	if keyPEM, err = keyutil.MarshalPrivateKeyToPEM(key); err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), keyPEM, nil
}
