package certificates

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"net"
	"strings"
	"testing"

	certificatesv1 "k8s.io/api/certificates/v1"

	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
)

func TestDecide(t *testing.T) {
	client := []certificatesv1.KeyUsage{certificatesv1.UsageDigitalSignature, certificatesv1.UsageClientAuth}
	request := func(cn string, orgs ...string) *x509.CertificateRequest {
		return &x509.CertificateRequest{Subject: pkix.Name{CommonName: cn, Organization: orgs}}
	}
	csr := func(user string, groups []string, usages []certificatesv1.KeyUsage) *certificatesv1.CertificateSigningRequest {
		return &certificatesv1.CertificateSigningRequest{Spec: certificatesv1.CertificateSigningRequestSpec{
			SignerName: certificatesv1.KubeAPIServerClientSignerName, Username: user, Groups: groups, Usages: usages}}
	}
	bootstrap := []string{"system:bootstrappers", "system:bootstrappers:kybern", "system:authenticated"}
	withSANs := request("kybern:node:n1", corev1alpha1.NodeGroup)
	withSANs.IPAddresses = []net.IP{net.ParseIP("10.0.0.1")}
	otherSigner := csr("system:bootstrap:abcdef", bootstrap, client)
	otherSigner.Spec.SignerName = certificatesv1.KubeletServingSignerName
	for _, tc := range []struct {
		name    string
		csr     *certificatesv1.CertificateSigningRequest
		req     *x509.CertificateRequest
		live    bool
		want    verdict
		message string
	}{
		{"a bootstrap token asks for a free node name", csr("system:bootstrap:abcdef", bootstrap, client), request("kybern:node:n1", corev1alpha1.NodeGroup), false, approve, ""},
		{"a bootstrap token asks for a live node's name", csr("system:bootstrap:abcdef", bootstrap, client), request("kybern:node:n1", corev1alpha1.NodeGroup), true, deny,
			"node n1 is held by a live node agent"},
		{"the node renews its own certificate", csr("kybern:node:n1", []string{corev1alpha1.NodeGroup}, client), request("kybern:node:n1", corev1alpha1.NodeGroup), true, approve, ""},
		{"a node asks for another node's", csr("kybern:node:n2", []string{corev1alpha1.NodeGroup}, client), request("kybern:node:n1", corev1alpha1.NodeGroup), false, leave, ""},
		{"a user asks for a node's", csr("alice", []string{"system:authenticated"}, client), request("kybern:node:n1", corev1alpha1.NodeGroup), false, leave, ""},
		{"a request for another identity", csr("system:bootstrap:abcdef", bootstrap, client), request("alice", "system:masters"), false, leave, ""},
		{"another signer", otherSigner, request("kybern:node:n1", corev1alpha1.NodeGroup), false, leave, ""},
		{"an extra group", csr("system:bootstrap:abcdef", bootstrap, client), request("kybern:node:n1", corev1alpha1.NodeGroup, "system:masters"), false, deny, "organization"},
		{"no node name", csr("system:bootstrap:abcdef", bootstrap, client), request("kybern:node:", corev1alpha1.NodeGroup), false, deny, "names no node"},
		{"subject alternative names", csr("system:bootstrap:abcdef", bootstrap, client), withSANs, false, deny, "no subject alternative names"},
		{"server auth", csr("system:bootstrap:abcdef", bootstrap, append(client, certificatesv1.UsageServerAuth)), request("kybern:node:n1", corev1alpha1.NodeGroup), false, deny, "usages"},
		{"no client auth", csr("system:bootstrap:abcdef", bootstrap, []certificatesv1.KeyUsage{certificatesv1.UsageDigitalSignature}), request("kybern:node:n1", corev1alpha1.NodeGroup), false, deny, "usages"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, message := decide(tc.csr, tc.req, func(node string) bool {
				if node != "n1" {
					t.Errorf("asked whether %q is live", node)
				}
				return tc.live
			})
			if got != tc.want || !strings.Contains(message, tc.message) {
				t.Fatalf("decide = %v %q, want %v with %q", got, message, tc.want, tc.message)
			}
		})
	}
}
