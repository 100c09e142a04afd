package proxy

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilnet "k8s.io/apimachinery/pkg/util/net"

	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
	"github.com/kybern/kybern/node-agent/servicewatch"
)

// Ranges bound what the proxy programs: the manager allocates cluster IPs and node ports
// from them, and the proxy takes nothing outside them, whatever a Service says, so that
// no Service captures the host's own traffic (a link-local metadata address, port 22).
type Ranges struct {
	ClusterIPs netip.Prefix
	NodePorts  utilnet.PortRange
}

// servicePort is one port of one Service as the proxy programs it: traffic to the
// cluster IP (and node port) for protocol and port goes to one of the endpoints. Every
// field is parsed and checked; the rules are written from these values alone.
type servicePort struct {
	// key is "<namespace>/<service>:<port name>", which names the port's chains (hashed).
	key       string
	clusterIP netip.Addr
	protocol  string // tcp, udp or sctp
	port      uint16
	nodePort  uint16 // zero without one
	endpoints []endpoint
	// affinity is how long a client keeps its endpoint, zero without sessionAffinity.
	affinity time.Duration
}

type endpoint struct {
	ip   netip.Addr
	port uint16
}

// problem is a part of a Service the proxy left out, and why.
type problem struct {
	service string
	message string
}

// defaultAffinityTimeout is upstream's sessionAffinityConfig.clientIP.timeoutSeconds
// default, three hours; maxAffinityTimeout is its validation's limit, one day.
const (
	defaultAffinityTimeout = 3 * time.Hour
	maxAffinityTimeout     = 24 * time.Hour
)

// protocols are the protocols a Service port may name, as nftables spells them.
var protocols = map[corev1.Protocol]string{"": "tcp", corev1.ProtocolTCP: "tcp", corev1.ProtocolUDP: "udp", corev1.ProtocolSCTP: "sctp"}

// servicePorts turns Services and their EndpointSlices into the ports the proxy serves,
// in a stable order, and the problems that made it leave parts out. Headless and
// ExternalName Services have nothing to proxy, and a Service has nothing until the
// service controller has confirmed its cluster IP (and node ports) for its current
// generation. What does not parse or lies outside r is left out and reported, as is a
// port that an earlier Service (in name order) already serves: one bad Service never
// stops the others. Only Ready endpoints count; an endpoint port is matched to a Service
// port by name and protocol.
func servicePorts(services []corev1alpha1.Service, epSlices []corev1alpha1.EndpointSlice, r Ranges) ([]servicePort, []problem) {
	bySvc := servicewatch.SlicesByService(epSlices)
	sorted := make([]*corev1alpha1.Service, len(services))
	for i := range services {
		sorted[i] = &services[i]
	}
	slices.SortFunc(sorted, func(a, b *corev1alpha1.Service) int {
		return cmp.Or(strings.Compare(a.Namespace, b.Namespace), strings.Compare(a.Name, b.Name))
	})
	var out []servicePort
	var problems []problem
	taken := map[string]string{} // "<ip> <protocol> <port>" or "node <protocol> <port>" → key
	for _, svc := range sorted {
		svcKey := svc.Namespace + "/" + svc.Name
		report := func(format string, args ...any) {
			problems = append(problems, problem{service: svcKey, message: fmt.Sprintf(format, args...)})
		}
		if svc.Spec.ClusterIP == "" || svc.Spec.ClusterIP == corev1.ClusterIPNone || svc.Spec.Type == corev1.ServiceTypeExternalName ||
			!confirmed(svc, corev1alpha1.ServiceClusterIPAllocated) {
			continue
		}
		ip, err := netip.ParseAddr(svc.Spec.ClusterIP)
		if err != nil || !ip.Is4() || !r.ClusterIPs.Contains(ip) {
			report("spec.clusterIP %q is not an address of the service range %s", svc.Spec.ClusterIP, r.ClusterIPs)
			continue
		}
		affinity, err := affinityOf(svc)
		if err != nil {
			report("%v", err)
		}
		withNodePorts := (svc.Spec.Type == corev1.ServiceTypeNodePort || svc.Spec.Type == corev1.ServiceTypeLoadBalancer) &&
			confirmed(svc, corev1alpha1.ServiceNodePortAllocated)
		for i, p := range svc.Spec.Ports {
			protocol, ok := protocols[p.Protocol]
			if !ok {
				report("spec.ports[%d].protocol %q is not TCP, UDP or SCTP", i, p.Protocol)
				continue
			}
			port, ok := portNumber(p.Port)
			if !ok {
				report("spec.ports[%d].port %d is not within 1-65535", i, p.Port)
				continue
			}
			sp := servicePort{key: svcKey + ":" + p.Name, clusterIP: ip, protocol: protocol, port: port, affinity: affinity}
			claim := fmt.Sprintf("%s %s %d", ip, protocol, port)
			if owner := taken[claim]; owner != "" {
				report("spec.ports[%d]: %s %s/%d is already served for %s", i, ip, protocol, port, owner)
				continue
			}
			taken[claim] = sp.key
			if withNodePorts && p.NodePort != 0 {
				nodeClaim := fmt.Sprintf("node %s %d", protocol, p.NodePort)
				switch np, ok := portNumber(p.NodePort); {
				case !ok || !r.NodePorts.Contains(int(p.NodePort)):
					report("spec.ports[%d].nodePort %d is not in the node port range %s", i, p.NodePort, r.NodePorts.String())
				case taken[nodeClaim] != "":
					report("spec.ports[%d].nodePort %d is already served for %s", i, p.NodePort, taken[nodeClaim])
				default:
					taken[nodeClaim] = sp.key
					sp.nodePort = np
				}
			}
			var bad []string
			sp.endpoints, bad = readyEndpoints(bySvc[svcKey], p.Name, protocol)
			for _, b := range bad {
				report("EndpointSlice endpoint %s", b)
			}
			out = append(out, sp)
		}
	}
	slices.SortFunc(out, func(a, b servicePort) int { return strings.Compare(a.key, b.key) })
	return out, problems
}

// confirmed tells whether the service controller set condition True for svc's current
// spec.
func confirmed(svc *corev1alpha1.Service, condition string) bool {
	c := apimeta.FindStatusCondition(svc.Status.Conditions, condition)
	return c != nil && c.Status == metav1.ConditionTrue && c.ObservedGeneration == svc.Generation
}

// affinityOf is how long a client of svc keeps its endpoint; a timeout outside upstream's
// 1 s to 1 day is an error, and the default is used.
func affinityOf(svc *corev1alpha1.Service) (time.Duration, error) {
	if svc.Spec.SessionAffinity != corev1.ServiceAffinityClientIP {
		return 0, nil
	}
	c := svc.Spec.SessionAffinityConfig
	if c == nil || c.ClientIP == nil || c.ClientIP.TimeoutSeconds == nil {
		return defaultAffinityTimeout, nil
	}
	t := time.Duration(*c.ClientIP.TimeoutSeconds) * time.Second
	if t <= 0 || t > maxAffinityTimeout {
		return defaultAffinityTimeout, fmt.Errorf("spec.sessionAffinityConfig.clientIP.timeoutSeconds %d is not within 1-86400; using %s",
			*c.ClientIP.TimeoutSeconds, defaultAffinityTimeout)
	}
	return t, nil
}

func portNumber(p int32) (uint16, bool) {
	return uint16(p), p >= 1 && p <= 65535
}

// readyEndpoints are the distinct ready addresses of slices with the port named name,
// and a description of each endpoint left out: an address that is not a unicast IPv4
// address outside loopback and link-local (upstream's endpoint validation), or a port
// outside 1-65535.
func readyEndpoints(epSlices []*corev1alpha1.EndpointSlice, name, protocol string) ([]endpoint, []string) {
	seen := map[endpoint]bool{}
	var out []endpoint
	var bad []string
	for _, s := range epSlices {
		var port uint16
		for _, p := range s.Ports {
			if p.Port == nil || ptrOr(p.Name, "") != name || protocols[ptrOr(p.Protocol, corev1.ProtocolTCP)] != protocol {
				continue
			}
			n, ok := portNumber(*p.Port)
			if !ok {
				bad = append(bad, fmt.Sprintf("port %d of %s is not within 1-65535", *p.Port, s.Name))
				continue
			}
			port = n
		}
		if port == 0 {
			continue
		}
		for _, e := range s.Endpoints {
			if !servicewatch.Ready(e) {
				continue
			}
			for _, a := range e.Addresses {
				ip, err := netip.ParseAddr(a)
				if err != nil || !ip.Is4() || !ip.IsGlobalUnicast() {
					bad = append(bad, fmt.Sprintf("address %q of %s is not a unicast IPv4 address outside loopback and link-local", a, s.Name))
					continue
				}
				ep := endpoint{ip: ip, port: port}
				if !seen[ep] {
					seen[ep] = true
					out = append(out, ep)
				}
			}
		}
	}
	slices.SortFunc(out, func(a, b endpoint) int {
		return cmp.Or(a.ip.Compare(b.ip), cmp.Compare(a.port, b.port))
	})
	return out, bad
}

func ptrOr[T any](p *T, def T) T {
	if p == nil {
		return def
	}
	return *p
}
