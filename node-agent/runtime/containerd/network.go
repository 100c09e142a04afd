package containerd

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"

	gocni "github.com/containerd/go-cni"
	"k8s.io/apimachinery/pkg/types"

	"github.com/kybern/kybern/node-agent/runtime"
)

// Ranges are the cluster-wide address ranges: pods get addresses from Pods (each node a
// part of it, its pod CIDR), Services from Services. Routes for both stay on the machine.
type Ranges struct {
	Pods, Services netip.Prefix
}

// cniPluginDirs are where Debian's containernetworking-plugins and upstream's install.
var cniPluginDirs = []string{"/usr/lib/cni", "/opt/cni/bin"}

// network gives each pod of one node an address on the node's own bridge, through CNI's
// bridge and host-local plugins, from the node's pod CIDR. Pods reach other nodes' pods
// through the host, which routes between the bridges of the agents on one machine. A pod
// has routes for the pod and service ranges only, and the host has unreachable routes for
// any part of them no bridge serves, so no pod packet leaves the machine.
type network struct {
	node     string
	stateDir string
	ranges   Ranges

	mu  sync.Mutex
	cni gocni.CNI
}

// bridgeName is short enough for a Linux interface name (15 bytes) and unique per node.
func bridgeName(node string) string {
	sum := sha1.Sum([]byte(node))
	return BridgePrefix + hex.EncodeToString(sum[:])[:10]
}

// BridgePrefix begins the name of every node's pod bridge.
const BridgePrefix = "kyb"

// checkPodCIDR says why podCIDR, the Node's, cannot be this node's pod network: the
// host's routes and bridge are made from it, so it must be an IPv4 network inside pods.
func checkPodCIDR(podCIDR string, pods netip.Prefix) error {
	cidr, err := netip.ParsePrefix(podCIDR)
	if err != nil {
		return fmt.Errorf("the Node's spec.podCIDR %q: %w", podCIDR, err)
	}
	if !cidr.Addr().Is4() || cidr.Masked() != cidr || cidr.Bits() < pods.Bits() || !pods.Contains(cidr.Addr()) {
		return fmt.Errorf("the Node's spec.podCIDR %s is not a network inside the pod range %s: give the agent the manager's --cluster-cidr", podCIDR, pods)
	}
	return nil
}

// configure readies the network for podCIDR: the CNI configuration, IP forwarding and the
// host's unreachable routes for the cluster ranges.
func (n *network) configure(ctx context.Context, podCIDR string) error {
	if err := checkPodCIDR(podCIDR, n.ranges.Pods); err != nil {
		return err
	}
	if err := clearStaleBridges(ctx, bridgeName(n.node), podCIDR); err != nil {
		return err
	}
	if err := ownBridge(ctx, bridgeName(n.node), podCIDR); err != nil {
		return err
	}
	conf, err := json.Marshal(map[string]any{
		"cniVersion": "1.0.0",
		"name":       "kybern-" + n.node,
		"plugins": []any{map[string]any{
			// forceAddress: a bridge left from an earlier run with another pod CIDR gets
			// this one's gateway address.
			"type": "bridge", "bridge": bridgeName(n.node), "isGateway": true, "ipMasq": false, "hairpinMode": true, "forceAddress": true,
			"ipam": map[string]any{
				"type":    "host-local",
				"ranges":  [][]map[string]string{{{"subnet": podCIDR}}},
				"routes":  []map[string]string{{"dst": n.ranges.Pods.String()}, {"dst": n.ranges.Services.String()}},
				"dataDir": filepath.Join(n.stateDir, "cni"),
			},
		}, map[string]any{
			// hostPort: DNAT from the node's addresses to the pod.
			"type": "portmap", "capabilities": map[string]bool{"portMappings": true},
		}},
	})
	if err != nil {
		return err
	}
	// Loopback is up already (ensureNetNS), so the bridge network is the only one, eth0.
	cni, err := gocni.New(gocni.WithPluginDir(cniPluginDirs), gocni.WithMinNetworkCount(1), gocni.WithConfListBytes(conf))
	if err != nil {
		return fmt.Errorf("CNI: %w (are containernetworking-plugins installed? make test installs them)", err)
	}
	if err := os.WriteFile("/proc/sys/net/ipv4/ip_forward", []byte("1"), 0o644); err != nil {
		return fmt.Errorf("enabling IP forwarding between pod bridges: %w", err)
	}
	for _, r := range []netip.Prefix{n.ranges.Pods, n.ranges.Services} {
		cidr := r.String()
		if out, err := exec.CommandContext(ctx, "ip", "route", "replace", "unreachable", cidr).CombinedOutput(); err != nil {
			return fmt.Errorf("ip route replace unreachable %s: %w: %s", cidr, err, out)
		}
	}
	n.mu.Lock()
	n.cni = cni
	n.mu.Unlock()
	return nil
}

func (n *network) plugins() (gocni.CNI, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cni == nil {
		return nil, errors.New("the node has no pod CIDR yet")
	}
	return n.cni, nil
}

// setUp gives the pod's network namespace its address and host ports, unless it has an
// address, and returns it.
func (n *network) setUp(ctx context.Context, uid types.UID, ports []runtime.HostPort) ([]string, error) {
	if ips, err := podIPs(ctx, netnsName(uid)); err == nil && len(ips) > 0 {
		return ips, nil
	}
	cni, err := n.plugins()
	if err != nil {
		return nil, err
	}
	res, err := cni.Setup(ctx, string(uid), netnsPath(uid), portMaps(ports))
	if err != nil {
		// What the failed attempt made would fail the next one: remove it first.
		if rmErr := cni.Remove(ctx, string(uid), netnsPath(uid), portMaps(ports)); rmErr != nil {
			err = errors.Join(err, rmErr)
		}
		return nil, fmt.Errorf("setting up the pod's network: %w", err)
	}
	var ips []string
	for name, iface := range res.Interfaces {
		if name == "lo" {
			continue
		}
		for _, c := range iface.IPConfigs {
			if c.IP != nil && !c.IP.IsLoopback() {
				ips = append(ips, c.IP.String())
			}
		}
	}
	if len(ips) == 0 {
		return nil, errors.New("setting up the pod's network: CNI gave it no address")
	}
	return ips, nil
}

// tearDown releases the pod's address, host ports and interfaces; a pod without them is
// no error.
func (n *network) tearDown(ctx context.Context, uid types.UID, ports []runtime.HostPort) error {
	cni, err := n.plugins()
	if err != nil {
		return nil
	}
	if err := cni.Remove(ctx, string(uid), netnsPath(uid), portMaps(ports)); err != nil {
		return fmt.Errorf("releasing the pod's network: %w", err)
	}
	return nil
}

// podIPs reads the IPv4 addresses of eth0 in the named network namespace.
func podIPs(ctx context.Context, ns string) ([]string, error) {
	out, err := exec.CommandContext(ctx, "ip", "-n", ns, "-4", "-o", "addr", "show", "dev", "eth0").Output()
	if err != nil {
		return nil, err
	}
	var ips []string
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		for i := 0; i+1 < len(f); i++ {
			if f[i] == "inet" {
				ip, _, _ := strings.Cut(f[i+1], "/")
				ips = append(ips, ip)
			}
		}
	}
	return ips, nil
}

// portMaps hands the pod's host ports to the portmap plugin.
func portMaps(ports []runtime.HostPort) gocni.NamespaceOpts {
	maps := make([]gocni.PortMapping, len(ports))
	for i, p := range ports {
		maps[i] = gocni.PortMapping{HostPort: p.HostPort, ContainerPort: p.ContainerPort, Protocol: p.Protocol, HostIP: p.HostIP}
	}
	return gocni.WithCapabilityPortMap(maps)
}
