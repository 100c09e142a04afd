package certificates

import (
	"crypto/x509"
	"fmt"
	"slices"
	"strings"

	certificatesv1 "k8s.io/api/certificates/v1"

	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
)

// bootstrappers is the group every bootstrap token authenticates in.
const bootstrappers = "system:bootstrappers"

// verdict is what the approver does with one request.
type verdict int

const (
	// leave is for requests that are not a node's client certificate: not ours to judge.
	leave verdict = iota
	approve
	deny
)

// decide judges a request for a node client certificate. csr is the request object, req
// its parsed PKCS#10 request, and live tells whether a node agent holds node now. It
// returns the verdict and, for a denial, the reason given to the requester.
func decide(csr *certificatesv1.CertificateSigningRequest, req *x509.CertificateRequest, live func(node string) bool) (verdict, string) {
	if csr.Spec.SignerName != certificatesv1.KubeAPIServerClientSignerName || !strings.HasPrefix(req.Subject.CommonName, corev1alpha1.NodeUserPrefix) {
		return leave, ""
	}
	node := strings.TrimPrefix(req.Subject.CommonName, corev1alpha1.NodeUserPrefix)
	switch {
	case node == "":
		return deny, "the common name names no node: ask for kybern:node:<node>"
	case !slices.Equal(req.Subject.Organization, []string{corev1alpha1.NodeGroup}):
		return deny, fmt.Sprintf("organization %v: a node's certificate is in group %s alone", req.Subject.Organization, corev1alpha1.NodeGroup)
	case len(req.DNSNames)+len(req.IPAddresses)+len(req.EmailAddresses)+len(req.URIs) > 0:
		return deny, "a node's client certificate has no subject alternative names: remove them"
	case !clientUsages(csr.Spec.Usages):
		return deny, fmt.Sprintf("usages %v: a node's client certificate is for client auth, with digital signature and key encipherment at most", csr.Spec.Usages)
	case csr.Spec.Username == req.Subject.CommonName:
		return approve, ""
	case !slices.Contains(csr.Spec.Groups, bootstrappers):
		return leave, ""
	case live(node):
		return deny, fmt.Sprintf("node %s is held by a live node agent (its Lease in kybern-node-lease is current): a bootstrap credential may not take it over; start the agent with another --node-name, or delete Node %s once its agent is gone", node, node)
	}
	return approve, ""
}

// clientUsages says whether usages ask for client auth and nothing beyond what a client
// certificate needs.
func clientUsages(usages []certificatesv1.KeyUsage) bool {
	allowed := []certificatesv1.KeyUsage{certificatesv1.UsageClientAuth, certificatesv1.UsageDigitalSignature, certificatesv1.UsageKeyEncipherment}
	for _, u := range usages {
		if !slices.Contains(allowed, u) {
			return false
		}
	}
	return slices.Contains(usages, certificatesv1.UsageClientAuth)
}
