package servingcert

import (
	"crypto/x509"
	"encoding/pem"
	"testing"
	"time"
)

func TestSelfSignedServesTheHostsItNames(t *testing.T) {
	now := time.Now()
	for _, hosts := range [][]string{{"127.0.0.1"}, {"kybern-webhook.kybern-system.svc"}, {"kybern-metrics-api.kybern-system.svc", "localhost", "127.0.0.1"}} {
		caPEM, certPEM, _, err := SelfSigned("test-ca", hosts, now)
		if err != nil {
			t.Fatal(err)
		}
		roots := x509.NewCertPool()
		if !roots.AppendCertsFromPEM(caPEM) {
			t.Fatal("the CA bundle holds no certificate")
		}
		block, _ := pem.Decode(certPEM)
		leaf, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		for _, host := range hosts {
			opts := x509.VerifyOptions{Roots: roots, DNSName: host, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
			if _, err := leaf.Verify(opts); err != nil {
				t.Errorf("%v: %s: %v", hosts, host, err)
			}
		}
		opts := x509.VerifyOptions{Roots: roots, DNSName: "elsewhere.example", CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
		if _, err := leaf.Verify(opts); err == nil {
			t.Errorf("%v: the certificate also serves elsewhere.example", hosts)
		}
	}
	if _, _, _, err := SelfSigned("test-ca", nil, now); err == nil {
		t.Error("a certificate for no host was made")
	}
}
