package proxy

import (
	"cmp"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"

	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
	"github.com/kybern/kybern/node-agent/servicewatch"
)

// servicePort is one port of one Service as the proxy programs it: traffic to the
// cluster IP (and node port) for protocol and port goes to one of the endpoints.
type servicePort struct {
	// key is "<namespace>/<service>:<port name>", which names the port's chains.
	key       string
	clusterIP string
	protocol  string // tcp, udp or sctp
	port      int32
	nodePort  int32
	endpoints []endpoint
	// affinity is how long a client keeps its endpoint, zero without sessionAffinity.
	affinity time.Duration
}

type endpoint struct {
	ip   string
	port int32
}

// defaultAffinityTimeout is upstream's sessionAffinityConfig.clientIP.timeoutSeconds
// default: three hours.
const defaultAffinityTimeout = 3 * time.Hour

// servicePorts turns Services and their EndpointSlices into the ports the proxy serves,
// in a stable order. Headless and ExternalName Services, and Services without a cluster
// IP yet, have nothing to proxy. Only Ready endpoints count; an endpoint port is matched
// to a Service port by name.
func servicePorts(services []corev1alpha1.Service, epSlices []corev1alpha1.EndpointSlice) []servicePort {
	bySvc := servicewatch.SlicesByService(epSlices)
	var out []servicePort
	for i := range services {
		svc := &services[i]
		ip := svc.Spec.ClusterIP
		if ip == "" || ip == corev1.ClusterIPNone || svc.Spec.Type == corev1.ServiceTypeExternalName {
			continue
		}
		affinity := time.Duration(0)
		if svc.Spec.SessionAffinity == corev1.ServiceAffinityClientIP {
			affinity = defaultAffinityTimeout
			if c := svc.Spec.SessionAffinityConfig; c != nil && c.ClientIP != nil && c.ClientIP.TimeoutSeconds != nil {
				affinity = time.Duration(*c.ClientIP.TimeoutSeconds) * time.Second
			}
		}
		svcKey := svc.Namespace + "/" + svc.Name
		for _, p := range svc.Spec.Ports {
			sp := servicePort{key: svcKey + ":" + p.Name, clusterIP: ip, protocol: protocolOf(p.Protocol), port: p.Port,
				nodePort: p.NodePort, affinity: affinity}
			sp.endpoints = readyEndpoints(bySvc[svcKey], p.Name, p.Protocol)
			out = append(out, sp)
		}
	}
	slices.SortFunc(out, func(a, b servicePort) int { return strings.Compare(a.key, b.key) })
	return out
}

func protocolOf(p corev1.Protocol) string {
	if p == "" {
		return "tcp"
	}
	return strings.ToLower(string(p))
}

// readyEndpoints are the distinct ready addresses of slices with the port named name.
func readyEndpoints(epSlices []*corev1alpha1.EndpointSlice, name string, protocol corev1.Protocol) []endpoint {
	seen := map[endpoint]bool{}
	var out []endpoint
	for _, s := range epSlices {
		var port int32
		for _, p := range s.Ports {
			if p.Port != nil && ptrOr(p.Name, "") == name && protocolOf(ptrOr(p.Protocol, corev1.ProtocolTCP)) == protocolOf(protocol) {
				port = *p.Port
			}
		}
		if port == 0 {
			continue
		}
		for _, e := range s.Endpoints {
			if !servicewatch.Ready(e) {
				continue
			}
			for _, a := range e.Addresses {
				ep := endpoint{ip: a, port: port}
				if !seen[ep] {
					seen[ep] = true
					out = append(out, ep)
				}
			}
		}
	}
	slices.SortFunc(out, func(a, b endpoint) int {
		return cmp.Or(strings.Compare(a.ip, b.ip), cmp.Compare(a.port, b.port))
	})
	return out
}

func ptrOr[T any](p *T, def T) T {
	if p == nil {
		return def
	}
	return *p
}
