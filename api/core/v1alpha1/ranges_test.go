package v1alpha1

import (
	"net/netip"
	"strings"
	"testing"
)

func TestValidateClusterCIDR(t *testing.T) {
	services := netip.MustParsePrefix(DefaultServiceClusterIPRange)
	for _, tc := range []struct {
		pods, wantErr string
	}{
		{DefaultClusterCIDR, ""},
		{"10.0.0.0/8", "overlaps --service-cluster-ip-range=10.96.0.0/16"},
		{"10.96.128.0/20", "overlaps"},
		{"10.244.0.1/16", "host bits"},
		{"10.244.0.0/25", "must be /8 to /24"},
		{"10.0.0.0/7", "must be /8 to /24"},
		{"fd00::/48", "must be an IPv4 CIDR"},
		{"172.16.0.0/12", ""},
	} {
		err := ValidateClusterCIDR(netip.MustParsePrefix(tc.pods), services)
		switch {
		case tc.wantErr == "" && err != nil:
			t.Errorf("%s: %v, want no error", tc.pods, err)
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("%s: %v, want an error containing %q", tc.pods, err, tc.wantErr)
		}
	}
}
