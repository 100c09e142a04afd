package nodelifecycle

import (
	"fmt"
	"net/netip"
	"testing"
)

func TestNextCIDR(t *testing.T) {
	taken := func(cidrs ...string) map[string]bool {
		m := map[string]bool{}
		for _, c := range cidrs {
			m[c] = true
		}
		return m
	}
	all := func(format string, n int) map[string]bool {
		m := map[string]bool{}
		for i := range n {
			m[fmt.Sprintf(format, i)] = true
		}
		return m
	}
	for _, tc := range []struct {
		pods string
		used map[string]bool
		want string // "" for none left
	}{
		{"10.244.0.0/16", nil, "10.244.0.0/24"},
		{"10.244.0.0/16", taken("10.244.0.0/24", "10.244.2.0/24"), "10.244.1.0/24"},
		{"10.244.0.0/16", all("10.244.%d.0/24", 256), ""},
		{"10.100.16.0/20", all("10.100.%d.0/24", 16+5), "10.100.21.0/24"},
		{"10.100.16.0/20", all("10.100.%d.0/24", 32), ""},
		{"192.168.7.0/24", nil, "192.168.7.0/24"},
		{"192.168.7.0/24", taken("192.168.7.0/24"), ""},
		{"10.0.0.0/8", all("10.0.%d.0/24", 256), "10.1.0.0/24"},
	} {
		got, err := nextCIDR(netip.MustParsePrefix(tc.pods), tc.used)
		if tc.want == "" {
			if err == nil {
				t.Errorf("%s: got %s, want an error: every /24 is taken", tc.pods, got)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%s: got %q, %v; want %s", tc.pods, got, err, tc.want)
		}
	}
}
