package nodelifecycle

import (
	"fmt"
	"net/netip"
)

// ClusterCIDR is the range pod CIDRs come from; each node gets one /24 of it.
var ClusterCIDR = netip.MustParsePrefix("10.244.0.0/16")

// nextCIDR returns the first /24 of ClusterCIDR not in used.
func nextCIDR(used map[string]bool) (string, error) {
	base := ClusterCIDR.Addr().As4()
	for i := range 256 {
		cidr := netip.PrefixFrom(netip.AddrFrom4([4]byte{base[0], base[1], byte(i), 0}), 24).String()
		if !used[cidr] {
			return cidr, nil
		}
	}
	return "", fmt.Errorf("every /24 of the cluster CIDR %s is taken: no pod CIDR left for another node", ClusterCIDR)
}
