package apiservice

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"net/url"
	"sync"
	"syscall"
	"time"

	"github.com/go-logr/logr"

	"github.com/kybern/kybern/node-agent/nft"
)

// Relay serves Service on one node.
type Relay struct {
	// Node names the nftables table (family ip) the relay owns: TableName(Node).
	Node string
	// PodCIDR is the node's pod network: only its pods' traffic is relayed, so that the
	// agents of several nodes on one host do not take each other's.
	PodCIDR netip.Prefix
	// Gateway is the pod network's gateway, the host's address on the node's bridge,
	// which may not exist yet (the bridge comes with the first pod).
	Gateway netip.Addr
	// APIServer is the URL the agent reaches the apiserver at (its rest.Config's Host).
	APIServer string
	Log       logr.Logger
}

// dialTimeout bounds a connection to the apiserver.
const dialTimeout = 10 * time.Second

// TableName is the table of node's relay: "kybernapi_" and the node name with characters
// nftables does not take in a name replaced by '_', never one of the proxy's tables
// ("kybern_…").
func TableName(node string) string {
	return nft.TableName("kybernapi_", node)
}

// Run relays connections to svc until ctx ends, then removes the table. It listens on
// the gateway at a port the kernel picks before the address exists (IP_FREEBIND), so
// that the rule is in place before any pod starts.
func (r *Relay) Run(ctx context.Context, svc Service) error {
	target, err := hostPort(r.APIServer)
	if err != nil {
		return err
	}
	if !r.Gateway.Is4() || !r.PodCIDR.Addr().Is4() || !r.PodCIDR.Contains(r.Gateway) {
		return fmt.Errorf("the apiserver relay needs an IPv4 gateway inside the pod CIDR, not %s in %s", r.Gateway, r.PodCIDR)
	}
	lc := net.ListenConfig{Control: freebind}
	ln, err := lc.Listen(ctx, "tcp4", netip.AddrPortFrom(r.Gateway, 0).String())
	if err != nil {
		return fmt.Errorf("the apiserver relay on %s: %w", r.Gateway, err)
	}
	defer ln.Close()
	to := netip.MustParseAddrPort(ln.Addr().String())
	table := TableName(r.Node)
	if err := nft.Run(ctx, ruleset(table, r.PodCIDR, svc, to)); err != nil {
		return fmt.Errorf("writing the apiserver relay's rule: %w", err)
	}
	defer func() {
		cleanup, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := Cleanup(cleanup, r.Node); err != nil {
			r.Log.Error(err, "Removing the apiserver relay's rule", "table", table)
		}
	}()
	r.Log.Info("Relaying the kubernetes Service to the apiserver", "service", netip.AddrPortFrom(svc.ClusterIP, svc.Port), "relay", to, "apiserver", target)
	go func() {
		<-ctx.Done()
		ln.Close()
	}()
	var conns sync.WaitGroup
	defer conns.Wait()
	for {
		conn, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("the apiserver relay: %w", err)
		}
		conns.Go(func() { r.relay(ctx, conn, target) })
	}
}

// relay copies between conn and a new connection to target until both sides have
// closed, or ctx ends.
func (r *Relay) relay(ctx context.Context, conn net.Conn, target string) {
	defer conn.Close()
	d := net.Dialer{Timeout: dialTimeout}
	up, err := d.DialContext(ctx, "tcp", target)
	if err != nil {
		r.Log.Error(err, "Relaying a pod's connection to the apiserver", "client", conn.RemoteAddr().String())
		return
	}
	defer up.Close()
	stop := context.AfterFunc(ctx, func() {
		conn.Close()
		up.Close()
	})
	defer stop()
	var wg sync.WaitGroup
	for _, pair := range [][2]net.Conn{{up, conn}, {conn, up}} {
		wg.Go(func() {
			_, _ = io.Copy(pair[0], pair[1])
			if c, ok := pair[0].(interface{ CloseWrite() error }); ok {
				_ = c.CloseWrite()
			}
		})
	}
	wg.Wait()
}

// hostPort is the host:port of an apiserver URL, 443 when it names no port.
func hostPort(apiserver string) (string, error) {
	u, err := url.Parse(apiserver)
	if err != nil || u.Hostname() == "" {
		return "", fmt.Errorf("the apiserver URL %q has no host", apiserver)
	}
	port := u.Port()
	if port == "" {
		port = "443"
	}
	return net.JoinHostPort(u.Hostname(), port), nil
}

// freebind lets the listener bind an address the host does not have yet.
func freebind(_, _ string, c syscall.RawConn) error {
	var sockErr error
	err := c.Control(func(fd uintptr) {
		sockErr = syscall.SetsockoptInt(int(fd), syscall.SOL_IP, syscall.IP_FREEBIND, 1)
	})
	return errors.Join(err, sockErr)
}

// ruleset is the nftables script that replaces table: TCP from the pod CIDR to the
// Service's address and port is sent to the relay at to. Its priority is just before the
// service proxy's, so that a kybern Service given the same address cannot take the
// apiserver's traffic. Every value in it was parsed.
func ruleset(table string, pods netip.Prefix, svc Service, to netip.AddrPort) string {
	return fmt.Sprintf(`add table ip %[1]s
delete table ip %[1]s
table ip %[1]s {
  chain prerouting {
    type nat hook prerouting priority dstnat - 1; policy accept;
    ip saddr %[2]s ip daddr %[3]s tcp dport %[4]d dnat to %[5]s
  }
}
`, table, pods.Masked(), svc.ClusterIP, svc.Port, to)
}

// Cleanup removes node's relay table, if there is one.
func Cleanup(ctx context.Context, node string) error {
	return nft.DeleteTable(ctx, TableName(node))
}
