package certificates

import (
	"crypto/x509"
	"fmt"
	"net"
	"slices"
	"strings"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"

	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
)

// The subject of serving certificates of signer kubernetes.io/kubelet-serving, which
// upstream's signers require: system:node:<node> in system:nodes. A node agent's serving
// certificate takes that form so that a cluster's own kube-controller-manager can sign it.
const (
	ServingUserPrefix = "system:node:"
	ServingGroup      = "system:nodes"
)

// validServing checks a kubelet-serving request's form, as upstream's signer does: the
// subject above, DNS and IP subject alternative names only and at least one, server auth
// with digital signature and key encipherment at most.
func validServing(csr *certificatesv1.CertificateSigningRequest, req *x509.CertificateRequest) error {
	allowed := []certificatesv1.KeyUsage{certificatesv1.UsageServerAuth, certificatesv1.UsageDigitalSignature, certificatesv1.UsageKeyEncipherment}
	switch {
	case !slices.Equal(req.Subject.Organization, []string{ServingGroup}):
		return fmt.Errorf("organization %v: a serving certificate of %s is in %s alone", req.Subject.Organization, certificatesv1.KubeletServingSignerName, ServingGroup)
	case !strings.HasPrefix(req.Subject.CommonName, ServingUserPrefix) || req.Subject.CommonName == ServingUserPrefix:
		return fmt.Errorf("common name %q: a serving certificate of %s is for %s<node>", req.Subject.CommonName, certificatesv1.KubeletServingSignerName, ServingUserPrefix)
	case len(req.EmailAddresses)+len(req.URIs) > 0:
		return fmt.Errorf("a serving certificate names its node by DNS names and IP addresses only: remove the email and URI names")
	case len(req.DNSNames)+len(req.IPAddresses) == 0:
		return fmt.Errorf("a serving certificate needs at least one DNS name or IP address")
	case !slices.Contains(csr.Spec.Usages, certificatesv1.UsageServerAuth) ||
		slices.ContainsFunc(csr.Spec.Usages, func(u certificatesv1.KeyUsage) bool { return !slices.Contains(allowed, u) }):
		return fmt.Errorf("usages %v: a serving certificate is for server auth, with digital signature and key encipherment at most", csr.Spec.Usages)
	}
	return nil
}

// decideServing judges a request for a node agent's serving certificate. Only a node
// identity's own request is judged (others are left to whoever approves them): approved
// when its names are the node's own, the Node's name and host name addresses and its
// internal and external IPs, as the node reports them; denied, saying why, otherwise.
// addresses is the Node's status addresses, found false while the Node does not exist.
func decideServing(csr *certificatesv1.CertificateSigningRequest, req *x509.CertificateRequest, addresses func(node string) ([]corev1.NodeAddress, bool)) (verdict, string) {
	if csr.Spec.SignerName != certificatesv1.KubeletServingSignerName || !strings.HasPrefix(csr.Spec.Username, corev1alpha1.NodeUserPrefix) {
		return leave, ""
	}
	node := strings.TrimPrefix(csr.Spec.Username, corev1alpha1.NodeUserPrefix)
	if err := validServing(csr, req); err != nil {
		return deny, err.Error()
	}
	if req.Subject.CommonName != ServingUserPrefix+node {
		return deny, fmt.Sprintf("common name %s: node %s may ask only for %s%s", req.Subject.CommonName, node, ServingUserPrefix, node)
	}
	addrs, found := addresses(node)
	if !found {
		return leave, ""
	}
	names, ips := []string{node}, []net.IP{}
	for _, a := range addrs {
		switch a.Type {
		case corev1.NodeHostName, corev1.NodeInternalDNS, corev1.NodeExternalDNS:
			names = append(names, a.Address)
		case corev1.NodeInternalIP, corev1.NodeExternalIP:
			if ip := net.ParseIP(a.Address); ip != nil {
				ips = append(ips, ip)
			}
		}
	}
	for _, n := range req.DNSNames {
		if !slices.Contains(names, n) {
			return deny, fmt.Sprintf("DNS name %s is not one of node %s's names %v: ask only for the names in its status.addresses", n, node, names)
		}
	}
	for _, ip := range req.IPAddresses {
		if !slices.ContainsFunc(ips, ip.Equal) {
			return deny, fmt.Sprintf("IP address %s is not one of node %s's addresses %v: ask only for the addresses in its status.addresses", ip, node, ips)
		}
	}
	return approve, ""
}
