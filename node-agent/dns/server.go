// Package dns is the node agent's cluster DNS server: it answers the names of Services in
// the cluster domain from Services and EndpointSlices, as upstream's cluster DNS does, and
// forwards every other name to the host's resolvers.
package dns

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/go-logr/logr"
	"github.com/miekg/dns"
	ctrlcache "sigs.k8s.io/controller-runtime/pkg/cache"

	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
	"github.com/kybern/kybern/node-agent/servicewatch"
)

// Server answers DNS queries from a node's pods.
type Server struct {
	// Domain is the cluster domain, such as "cluster.local".
	Domain string
	// Upstreams are the resolvers ("host:port") other names go to; none means SERVFAIL.
	Upstreams []string
	// Static are Services answered beside the watched ones: the kubernetes Service,
	// which is not a kybern Service.
	Static []corev1alpha1.Service
	Log    logr.Logger

	zone atomic.Pointer[zone]
}

// Run serves DNS on UDP and TCP port 53 of addr until ctx ends, with records kept in step
// with the Services and EndpointSlices in cache, which the caller runs. The address may
// not exist yet (the node's bridge comes with its first pod): Run binds as soon as it
// does.
func (s *Server) Run(ctx context.Context, cache ctrlcache.Cache, addr string) error {
	fqdn := dns.Fqdn(strings.ToLower(s.Domain))
	s.zone.Store(buildZone(fqdn, s.Static, nil))
	go func() {
		err := servicewatch.OnChange(ctx, cache, 200*time.Millisecond, s.Log, func(_ context.Context, services []corev1alpha1.Service, endpoints []corev1alpha1.EndpointSlice) error {
			s.zone.Store(buildZone(fqdn, append(slices.Clone(s.Static), services...), endpoints))
			return nil
		})
		if err != nil {
			s.Log.Error(err, "Watching Services for DNS stopped")
		}
	}()
	hostPort := net.JoinHostPort(addr, "53")
	udp, tcp, err := s.listen(ctx, hostPort)
	if err != nil {
		return err
	}
	servers := []*dns.Server{{PacketConn: udp, Handler: s}, {Listener: tcp, Handler: s}}
	errs := make(chan error, len(servers))
	for _, srv := range servers {
		go func() { errs <- srv.ActivateAndServe() }()
	}
	s.Log.Info("Serving cluster DNS", "address", hostPort, "domain", s.Domain)
	select {
	case <-ctx.Done():
	case err = <-errs:
	}
	for _, srv := range servers {
		_ = srv.Shutdown()
	}
	return err
}

// listen binds hostPort on UDP and TCP, trying again every second while the address is
// not on this host yet.
func (s *Server) listen(ctx context.Context, hostPort string) (net.PacketConn, net.Listener, error) {
	var lc net.ListenConfig
	for {
		udp, err := lc.ListenPacket(ctx, "udp", hostPort)
		if err == nil {
			tcp, err := lc.Listen(ctx, "tcp", hostPort)
			if err == nil {
				return udp, tcp, nil
			}
			_ = udp.Close()
		}
		if !errors.Is(err, syscall.EADDRNOTAVAIL) {
			return nil, nil, fmt.Errorf("cluster DNS on %s: %w", hostPort, err)
		}
		select {
		case <-ctx.Done():
			return nil, nil, ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

// ServeDNS answers one query: from the zone for names in the cluster domain, else from
// the upstream resolvers.
func (s *Server) ServeDNS(w dns.ResponseWriter, r *dns.Msg) {
	m := new(dns.Msg)
	if len(r.Question) != 1 {
		m.SetRcode(r, dns.RcodeFormatError)
		_ = w.WriteMsg(m)
		return
	}
	q := r.Question[0]
	z := s.zone.Load()
	if !dns.IsSubDomain(z.domain, strings.ToLower(q.Name)) {
		s.forward(w, r)
		return
	}
	answer, rcode := z.answer(q)
	m.SetRcode(r, rcode)
	m.Authoritative = true
	m.Answer = answer
	_ = w.WriteMsg(m)
}

// forward relays r to the first upstream that answers.
func (s *Server) forward(w dns.ResponseWriter, r *dns.Msg) {
	network := "udp"
	if _, ok := w.RemoteAddr().(*net.TCPAddr); ok {
		network = "tcp"
	}
	c := &dns.Client{Net: network, Timeout: 2 * time.Second}
	for _, up := range s.Upstreams {
		resp, _, err := c.Exchange(r, up)
		if err == nil {
			_ = w.WriteMsg(resp)
			return
		}
		s.Log.V(1).Info("Upstream resolver failed", "upstream", up, "err", err.Error())
	}
	m := new(dns.Msg)
	m.SetRcode(r, dns.RcodeServerFailure)
	_ = w.WriteMsg(m)
}
