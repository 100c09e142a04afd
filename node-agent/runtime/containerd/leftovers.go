package containerd

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"k8s.io/apimachinery/pkg/types"
)

// link is the part of `ip -j addr` output that tells a bridge's addresses.
type link struct {
	Name string `json:"ifname"`
	// MAC is the link-layer address.
	MAC   string `json:"address"`
	Addrs []struct {
		Family    string `json:"family"`
		Local     string `json:"local"`
		PrefixLen int    `json:"prefixlen"`
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

// ownBridge makes the node's bridge (creating it if need be) carry exactly the gateway
// address of podCIDR, its first, at once: a bridge kept from a run with another pod CIDR
// would otherwise keep that CIDR's address, and its route, until its first pod, and
// another node given that CIDR meanwhile would find it taken. It also gives the bridge a
// fixed MAC address (bridgeMAC): one left to the kernel follows the lowest of its ports'
// addresses, so a pod that goes changes the gateway's address under the others, whose
// ARP caches then send to an address nobody has until they expire, tens of seconds.
func ownBridge(ctx context.Context, name, podCIDR string) error {
	cidr, err := netip.ParsePrefix(podCIDR)
	if err != nil {
		return err
	}
	gateway := netip.PrefixFrom(cidr.Masked().Addr().Next(), cidr.Bits()).String()
	mac := bridgeMAC(name)
	out, err := exec.CommandContext(ctx, "ip", "-j", "addr", "show", "dev", name).Output()
	if err != nil {
		if out, err := exec.CommandContext(ctx, "ip", "link", "add", "name", name, "address", mac, "type", "bridge").CombinedOutput(); err != nil {
			return fmt.Errorf("creating bridge %s: %w: %s", name, err, out)
		}
		out = []byte("[]")
	}
	var links []link
	if err := json.Unmarshal(out, &links); err != nil {
		return fmt.Errorf("reading the addresses of bridge %s: %w", name, err)
	}
	var have []string
	for _, l := range links {
		if !strings.EqualFold(l.MAC, mac) {
			if out, err := exec.CommandContext(ctx, "ip", "link", "set", "dev", name, "address", mac).CombinedOutput(); err != nil {
				return fmt.Errorf("fixing the MAC address of bridge %s: %w: %s", name, err, out)
			}
		}
		for _, a := range l.Addrs {
			if a.Family == "inet" {
				have = append(have, fmt.Sprintf("%s/%d", a.Local, a.PrefixLen))
			}
		}
	}
	if len(have) == 1 && have[0] == gateway {
		return nil
	}
	for _, args := range [][]string{{"-4", "addr", "flush", "dev", name}, {"addr", "add", gateway, "dev", name}, {"link", "set", name, "up"}} {
		if out, err := exec.CommandContext(ctx, "ip", args...).CombinedOutput(); err != nil {
			return fmt.Errorf("ip %s: %w: %s", strings.Join(args, " "), err, out)
		}
	}
	return nil
}

// bridgeMAC is the MAC address of the bridge named name: derived from the name, so that
// it stays across agent restarts, unicast and locally administered.
func bridgeMAC(name string) string {
	sum := sha256.Sum256([]byte(name))
	sum[0] = sum[0]&^0x01 | 0x02
	return net.HardwareAddr(sum[:6]).String()
}

func servesAddressIn(l link, cidr netip.Prefix) bool {
	for _, a := range l.Addrs {
		if ip, err := netip.ParseAddr(a.Local); err == nil && a.Family == "inet" && cidr.Contains(ip) {
			return true
		}
	}
	return false
}

// leaseHolders are the container IDs (here pod UIDs) of host-local's leases under dir: a
// file per leased address, named after it, whose first line is the holder's ID.
func leaseHolders(dir string) ([]types.UID, error) {
	networks, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []types.UID
	for _, n := range networks {
		if !n.IsDir() {
			continue
		}
		leases, err := os.ReadDir(filepath.Join(dir, n.Name()))
		if err != nil {
			return nil, err
		}
		for _, l := range leases {
			if _, err := netip.ParseAddr(l.Name()); err != nil {
				continue
			}
			data, err := os.ReadFile(filepath.Join(dir, n.Name(), l.Name()))
			if err != nil {
				return nil, err
			}
			if id, _, _ := strings.Cut(strings.TrimSpace(string(data)), "\n"); id != "" {
				out = append(out, types.UID(strings.TrimSpace(id)))
			}
		}
	}
	return out, nil
}
