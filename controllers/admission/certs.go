package admission

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/webhook"
)

// certValidity is how long a self-signed serving certificate lasts; the manager makes a
// new one at every start.
const certValidity = 365 * 24 * time.Hour

// serving returns the webhook server, listening on host:port, and the CA bundle the
// apiserver is to trust: the key pair in dir (tls.crt, tls.key, reloaded when they
// change) and its ca.crt, or, with dir empty, a CA and a serving certificate for name
// (the address or DNS name the apiserver dials) made now and kept in memory.
func serving(dir, host string, port int, name string) (webhook.Server, []byte, error) {
	opts := webhook.Options{Host: host, Port: port, CertDir: dir}
	if dir != "" {
		ca, err := os.ReadFile(filepath.Join(dir, "ca.crt"))
		if err != nil {
			return nil, nil, fmt.Errorf("--webhook-cert-dir=%s: reading the CA the apiserver is to trust: %w; put ca.crt beside tls.crt and tls.key, or leave the flag empty for a self-signed certificate", dir, err)
		}
		return webhook.NewServer(opts), ca, nil
	}
	caPEM, certPEM, keyPEM, err := selfSigned(name, time.Now())
	if err != nil {
		return nil, nil, err
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, nil, err
	}
	opts.TLSOpts = []func(*tls.Config){func(c *tls.Config) {
		c.GetCertificate = func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return &pair, nil }
	}}
	return webhook.NewServer(opts), caPEM, nil
}

// selfSigned makes a CA and a serving certificate it signs for host (an IP address or a
// DNS name), valid from now, all PEM encoded.
func selfSigned(host string, now time.Time) (caPEM, certPEM, keyPEM []byte, err error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, nil, err
	}
	ca := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "kybern-webhook-ca"},
		NotBefore: now.Add(-time.Minute), NotAfter: now.Add(certValidity),
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature, BasicConstraintsValid: true, IsCA: true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, nil, nil, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, nil, err
	}
	leaf := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: host},
		NotBefore: now.Add(-time.Minute), NotAfter: now.Add(certValidity),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	if ip := net.ParseIP(host); ip != nil {
		leaf.IPAddresses = []net.IP{ip}
	} else {
		leaf.DNSNames = []string{host}
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, nil, nil, err
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leaf, caCert, &key.PublicKey, caKey)
	if err != nil {
		return nil, nil, nil, err
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}),
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: leafDER}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), nil
}
