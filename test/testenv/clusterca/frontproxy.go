package clusterca

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"os"
	"path/filepath"

	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// FrontProxyClientName is the name the apiserver's front proxy (its aggregator) presents
// to the API servers it aggregates, as kubeadm's.
const FrontProxyClientName = "front-proxy-client"

// enableAggregation lets api aggregate API servers, as a kubeadm apiserver does: a CA of
// the front proxy's own in certDir/front-proxy (not the cluster CA, which signs node and
// user certificates), the front proxy's client certificate, and the headers that carry the
// user it proxies for. The apiserver publishes all of it in
// kube-system/extension-apiserver-authentication, where aggregated servers read it.
func enableAggregation(api *envtest.APIServer, certDir string) error {
	dir := filepath.Join(certDir, "front-proxy")
	ca, err := load(dir, "kybern-front-proxy-ca")
	if err != nil {
		return err
	}
	certPEM, keyPEM, err := ca.issue(&x509.Certificate{Subject: pkix.Name{CommonName: FrontProxyClientName},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
	if err != nil {
		return err
	}
	certFile, keyFile := filepath.Join(dir, "client.crt"), filepath.Join(dir, "client.key")
	if err := os.WriteFile(certFile, certPEM, 0o600); err != nil {
		return err
	}
	if err := os.WriteFile(keyFile, keyPEM, 0o600); err != nil {
		return err
	}
	args := api.Configure()
	args.Set("requestheader-client-ca-file", ca.CertFile)
	args.Set("requestheader-allowed-names", FrontProxyClientName)
	args.Set("requestheader-username-headers", "X-Remote-User")
	args.Set("requestheader-group-headers", "X-Remote-Group")
	args.Set("requestheader-extra-headers-prefix", "X-Remote-Extra-")
	args.Set("proxy-client-cert-file", certFile)
	args.Set("proxy-client-key-file", keyFile)
	return nil
}
