package nodelifecycle

import (
	"fmt"
	"net/netip"

	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
)

// nextCIDR returns the first node-sized range (a /24) of pods, the cluster CIDR, not in used.
func nextCIDR(pods netip.Prefix, used map[string]bool) (string, error) {
	size := uint32(1) << (32 - corev1alpha1.NodeCIDRBits)
	base := pods.Masked().Addr().As4()
	first := uint32(base[0])<<24 | uint32(base[1])<<16 | uint32(base[2])<<8 | uint32(base[3])
	for i := range uint32(1) << (corev1alpha1.NodeCIDRBits - pods.Bits()) {
		a := first + i*size
		cidr := netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(a >> 24), byte(a >> 16), byte(a >> 8), byte(a)}), corev1alpha1.NodeCIDRBits).String()
		if !used[cidr] {
			return cidr, nil
		}
	}
	return "", fmt.Errorf("every /%d of the cluster CIDR %s is taken: no pod CIDR left for another node; give the manager a larger --cluster-cidr", corev1alpha1.NodeCIDRBits, pods)
}
