package admission

import (
	"crypto/tls"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/webhook"

	"github.com/kybern/kybern/controllers/internal/servingcert"
)

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
	caPEM, certPEM, keyPEM, err := servingcert.SelfSigned("kybern-webhook-ca", []string{name}, time.Now())
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
