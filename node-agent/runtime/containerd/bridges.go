package containerd

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"os/exec"
	"strings"
)

// link is the part of `ip -j addr` output that tells a bridge's addresses.
type link struct {
	Name  string `json:"ifname"`
	Addrs []struct {
		Family string `json:"family"`
		Local  string `json:"local"`
	} `json:"addr_info"`
}

// clearStaleBridges removes the bridges of other kybern nodes on this host that serve an
// address in podCIDR, as one left by an earlier control plane would (its nodes got the
// same CIDRs): two routes for one range would send this node's pod traffic astray. A
// bridge with pods still attached belongs to a node agent whose pods run; that is an
// error for the user to settle.
func clearStaleBridges(ctx context.Context, own, podCIDR string) error {
	cidr, err := netip.ParsePrefix(podCIDR)
	if err != nil {
		return err
	}
	out, err := exec.CommandContext(ctx, "ip", "-j", "addr", "show").Output()
	if err != nil {
		return fmt.Errorf("listing the host's interfaces: %w", err)
	}
	var links []link
	if err := json.Unmarshal(out, &links); err != nil {
		return fmt.Errorf("reading `ip -j addr show`: %w", err)
	}
	for _, l := range links {
		if l.Name == own || !strings.HasPrefix(l.Name, BridgePrefix) || !servesAddressIn(l, cidr) {
			continue
		}
		ports, err := exec.CommandContext(ctx, "ip", "-j", "link", "show", "master", l.Name).Output()
		if err != nil {
			return fmt.Errorf("listing the ports of bridge %s: %w", l.Name, err)
		}
		var attached []link
		if err := json.Unmarshal(ports, &attached); err != nil {
			return fmt.Errorf("reading the ports of bridge %s: %w", l.Name, err)
		}
		if len(attached) > 0 {
			return fmt.Errorf("pod CIDR %s is already served by bridge %s of another kybern node agent on this host, with %d pods attached: "+
				"delete that node's pods (or stop its containerd) before running this node with the same CIDR", podCIDR, l.Name, len(attached))
		}
		if out, err := exec.CommandContext(ctx, "ip", "link", "delete", l.Name).CombinedOutput(); err != nil {
			return fmt.Errorf("removing stale bridge %s: %w: %s", l.Name, err, out)
		}
	}
	return nil
}

func servesAddressIn(l link, cidr netip.Prefix) bool {
	for _, a := range l.Addrs {
		if ip, err := netip.ParseAddr(a.Local); err == nil && a.Family == "inet" && cidr.Contains(ip) {
			return true
		}
	}
	return false
}
