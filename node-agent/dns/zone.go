package dns

import (
	"net"
	"strings"

	"github.com/miekg/dns"
	corev1 "k8s.io/api/core/v1"

	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
	"github.com/kybern/kybern/node-agent/servicewatch"
)

// ttl is the time to live of every answer, short as upstream's cluster DNS keeps it, so
// that clients follow endpoints that come and go.
const ttl = 5

// zone holds the cluster domain's records, as upstream's DNS specification for Services
// lays them out:
//
//	<svc>.<ns>.svc.<domain>              A     the cluster IP, or each ready endpoint's
//	                                           address for a headless Service
//	<host>.<svc>.<ns>.svc.<domain>       A     a headless Service's endpoint with hostname
//	                                           <host>, else named by its dashed address
//	_<port>._<proto>.<svc>.<ns>.svc.<domain>  SRV  each named port
type zone struct {
	domain string
	a      map[string][]net.IP
	srv    map[string][]*dns.SRV
	// names are every name that exists, with or without records of a queried type.
	names map[string]bool
}

// buildZone makes the records of domain (a fully qualified name such as
// "cluster.local.") from Services and their EndpointSlices.
func buildZone(domain string, services []corev1alpha1.Service, slices []corev1alpha1.EndpointSlice) *zone {
	z := &zone{domain: domain, a: map[string][]net.IP{}, srv: map[string][]*dns.SRV{}, names: map[string]bool{}}
	bySvc := servicewatch.SlicesByService(slices)
	for i := range services {
		svc := &services[i]
		if svc.Spec.Type == corev1.ServiceTypeExternalName || svc.Spec.ClusterIP == "" {
			continue
		}
		name := strings.ToLower(svc.Name + "." + svc.Namespace + ".svc." + domain)
		z.exists(name)
		if svc.Spec.ClusterIP != corev1.ClusterIPNone {
			z.a[name] = append(z.a[name], net.ParseIP(svc.Spec.ClusterIP))
			for _, p := range svc.Spec.Ports {
				if p.Name != "" {
					z.addSRV(p.Name, p.Protocol, name, name, p.Port)
				}
			}
			continue
		}
		z.headless(name, bySvc[svc.Namespace+"/"+svc.Name])
	}
	return z
}

// headless adds the records of a headless Service: its ready endpoints by address.
func (z *zone) headless(name string, slices []*corev1alpha1.EndpointSlice) {
	for _, s := range slices {
		for _, e := range s.Endpoints {
			if !servicewatch.Ready(e) {
				continue
			}
			for _, addr := range e.Addresses {
				ip := net.ParseIP(addr)
				if ip == nil {
					continue
				}
				host := strings.ReplaceAll(addr, ".", "-")
				if e.Hostname != nil && *e.Hostname != "" {
					host = strings.ToLower(*e.Hostname)
				}
				target := host + "." + name
				z.exists(target)
				z.a[name] = append(z.a[name], ip)
				z.a[target] = append(z.a[target], ip)
				for _, p := range s.Ports {
					if p.Name != nil && *p.Name != "" && p.Port != nil {
						proto := corev1.ProtocolTCP
						if p.Protocol != nil {
							proto = *p.Protocol
						}
						z.addSRV(*p.Name, proto, name, target, *p.Port)
					}
				}
			}
		}
	}
}

func (z *zone) addSRV(port string, proto corev1.Protocol, name, target string, number int32) {
	if proto == "" {
		proto = corev1.ProtocolTCP
	}
	owner := "_" + strings.ToLower(port) + "._" + strings.ToLower(string(proto)) + "." + name
	z.exists(owner)
	z.srv[owner] = append(z.srv[owner], &dns.SRV{Hdr: dns.RR_Header{Name: owner, Rrtype: dns.TypeSRV, Class: dns.ClassINET, Ttl: ttl},
		Priority: 0, Weight: 100, Port: uint16(number), Target: target})
}

// exists records name and every name between it and the domain, which exist as empty
// non-terminals: "svc.<domain>" answers NODATA rather than NXDOMAIN.
func (z *zone) exists(name string) {
	for n := name; len(n) >= len(z.domain) && n != z.domain; {
		z.names[n] = true
		_, rest, ok := strings.Cut(n, ".")
		if !ok {
			return
		}
		n = rest
	}
}

// answer is the records for a question on a name inside the domain, and the response
// code: NXDOMAIN for a name that does not exist.
func (z *zone) answer(q dns.Question) ([]dns.RR, int) {
	name := strings.ToLower(q.Name)
	if !z.names[name] && name != z.domain {
		return nil, dns.RcodeNameError
	}
	var out []dns.RR
	if q.Qtype == dns.TypeA || q.Qtype == dns.TypeANY {
		for _, ip := range z.a[name] {
			out = append(out, &dns.A{Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: ttl}, A: ip})
		}
	}
	if q.Qtype == dns.TypeSRV || q.Qtype == dns.TypeANY {
		for _, srv := range z.srv[name] {
			out = append(out, srv)
		}
	}
	return out, dns.RcodeSuccess
}
