package certificates

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"net"
	"strings"
	"testing"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
)

func TestDecideServing(t *testing.T) {
	serving := []certificatesv1.KeyUsage{certificatesv1.UsageDigitalSignature, certificatesv1.UsageServerAuth}
	csr := func(user string, usages ...certificatesv1.KeyUsage) *certificatesv1.CertificateSigningRequest {
		return &certificatesv1.CertificateSigningRequest{Spec: certificatesv1.CertificateSigningRequestSpec{
			SignerName: certificatesv1.KubeletServingSignerName, Username: user, Usages: usages}}
	}
	request := func(cn string, dns []string, ips ...string) *x509.CertificateRequest {
		r := &x509.CertificateRequest{Subject: pkix.Name{CommonName: cn, Organization: []string{ServingGroup}}, DNSNames: dns}
		for _, ip := range ips {
			r.IPAddresses = append(r.IPAddresses, net.ParseIP(ip))
		}
		return r
	}
	wrongOrg := request("system:node:n1", []string{"n1"})
	wrongOrg.Subject.Organization = []string{"kybern:nodes"}
	otherSigner := csr("kybern:node:n1", serving...)
	otherSigner.Spec.SignerName = certificatesv1.KubeAPIServerClientSignerName
	addresses := []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "10.0.0.1"}, {Type: corev1.NodeHostName, Address: "host-1"}}
	for _, tc := range []struct {
		name    string
		csr     *certificatesv1.CertificateSigningRequest
		req     *x509.CertificateRequest
		exists  bool
		want    verdict
		message string
	}{
		{"the node asks for its name and address", csr("kybern:node:n1", serving...), request("system:node:n1", []string{"n1", "host-1"}, "10.0.0.1"), true, approve, ""},
		{"the Node is not registered yet", csr("kybern:node:n1", serving...), request("system:node:n1", []string{"n1"}, "10.0.0.1"), false, leave, ""},
		{"an address the node does not report", csr("kybern:node:n1", serving...), request("system:node:n1", []string{"n1"}, "10.0.0.9"), true, deny, "IP address 10.0.0.9"},
		{"a name the node does not report", csr("kybern:node:n1", serving...), request("system:node:n1", []string{"kubernetes.default"}), true, deny, "DNS name kubernetes.default"},
		{"another node's subject", csr("kybern:node:n1", serving...), request("system:node:n2", []string{"n1"}), true, deny, "may ask only for system:node:n1"},
		{"a client usage", csr("kybern:node:n1", certificatesv1.UsageServerAuth, certificatesv1.UsageClientAuth), request("system:node:n1", []string{"n1"}), true, deny, "usages"},
		{"no server auth", csr("kybern:node:n1", certificatesv1.UsageDigitalSignature), request("system:node:n1", []string{"n1"}), true, deny, "usages"},
		{"no names", csr("kybern:node:n1", serving...), request("system:node:n1", nil), true, deny, "at least one"},
		{"another organization", csr("kybern:node:n1", serving...), wrongOrg, true, deny, "organization"},
		{"an upstream kubelet's request", csr("system:node:n1", serving...), request("system:node:n1", []string{"n1"}), true, leave, ""},
		{"a user's request", csr("alice", serving...), request("system:node:n1", []string{"n1"}), true, leave, ""},
		{"another signer", otherSigner, request("system:node:n1", []string{"n1"}), true, leave, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, message := decideServing(tc.csr, tc.req, func(node string) ([]corev1.NodeAddress, bool) {
				if node != "n1" {
					t.Errorf("looked up node %q", node)
				}
				return addresses, tc.exists
			})
			if got != tc.want || !strings.Contains(message, tc.message) {
				t.Fatalf("decideServing = %v %q, want %v with %q", got, message, tc.want, tc.message)
			}
		})
	}
}
