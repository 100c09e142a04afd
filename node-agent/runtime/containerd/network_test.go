package containerd

import (
	"net/netip"
	"testing"
)

func TestCheckPodCIDR(t *testing.T) {
	pods := netip.MustParsePrefix("10.244.0.0/16")
	for _, tc := range []struct {
		podCIDR string
		ok      bool
	}{
		{"10.244.0.0/24", true},
		{"10.244.255.0/24", true},
		{"10.244.0.0/16", true},
		{"10.245.0.0/24", false},   // outside
		{"10.0.0.0/8", false},      // wider than the pod range
		{"10.244.0.1/24", false},   // host bits
		{"fd00::/64", false},       // IPv6
		{"10.244.0.0/24\n", false}, // not a CIDR
		{"0.0.0.0/0", false},       // the whole internet
		{"169.254.0.0/24", false},  // link-local, outside
		{"10.244.0.0/24 x", false}, // trailing junk
		{"", false},
	} {
		err := checkPodCIDR(tc.podCIDR, pods)
		if (err == nil) != tc.ok {
			t.Errorf("checkPodCIDR(%q) = %v, want ok=%v", tc.podCIDR, err, tc.ok)
		}
	}
}
