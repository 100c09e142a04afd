package v1alpha1

import (
	"fmt"
	"net/netip"
)

// DefaultClusterCIDR is the pod range (the manager's and node agents' --cluster-cidr),
// kubeadm's and flannel's usual 10.244.0.0/16. Node lifecycle gives each Node a /24 of it
// as spec.podCIDR.
const DefaultClusterCIDR = "10.244.0.0/16"

// NodeCIDRBits is the size of each Node's spec.podCIDR, kube-controller-manager's default
// --node-cidr-mask-size.
const NodeCIDRBits = 24

// ValidateClusterCIDR says why pods cannot be the pod range of a cluster whose Services
// take services, naming the flag: an IPv4 network (host bits zero) of /8 to /24, apart
// from the service range.
func ValidateClusterCIDR(pods, services netip.Prefix) error {
	switch {
	case !pods.IsValid() || !pods.Addr().Is4():
		return fmt.Errorf("--cluster-cidr=%s: must be an IPv4 CIDR, such as %s", pods, DefaultClusterCIDR)
	case pods.Masked() != pods:
		return fmt.Errorf("--cluster-cidr=%s: has host bits set; the network is %s", pods, pods.Masked())
	case pods.Bits() < 8 || pods.Bits() > NodeCIDRBits:
		return fmt.Errorf("--cluster-cidr=%s: must be /8 to /%d, to hold each node's /%d", pods, NodeCIDRBits, NodeCIDRBits)
	case pods.Overlaps(services):
		return fmt.Errorf("--cluster-cidr=%s overlaps --service-cluster-ip-range=%s: give pods and Services ranges apart", pods, services)
	}
	return nil
}
