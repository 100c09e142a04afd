package proxy

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilnet "k8s.io/apimachinery/pkg/util/net"
	"k8s.io/utils/ptr"

	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
)

var ranges = Ranges{ClusterIPs: netip.MustParsePrefix("10.96.0.0/16"), NodePorts: *utilnet.ParsePortRangeOrDie("30000-32767")}

// service is a NodePort Service whose cluster IP and node ports the service controller
// confirmed for its current generation.
func service(name, ip string, ports ...corev1.ServicePort) corev1alpha1.Service {
	s := corev1alpha1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name, Generation: 2}}
	s.Spec.Type, s.Spec.ClusterIP, s.Spec.Ports = corev1.ServiceTypeNodePort, ip, ports
	for _, c := range []string{corev1alpha1.ServiceClusterIPAllocated, corev1alpha1.ServiceNodePortAllocated} {
		s.Status.Conditions = append(s.Status.Conditions, metav1.Condition{Type: c, Status: metav1.ConditionTrue, ObservedGeneration: 2})
	}
	return s
}

func slice(svc string, ports []discoveryv1.EndpointPort, eps ...discoveryv1.Endpoint) corev1alpha1.EndpointSlice {
	return corev1alpha1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: svc + "-x",
		Labels: map[string]string{discoveryv1.LabelServiceName: svc}}, AddressType: discoveryv1.AddressTypeIPv4, Ports: ports, Endpoints: eps}
}

func ep(ip string, ready *bool) discoveryv1.Endpoint {
	return discoveryv1.Endpoint{Addresses: []string{ip}, Conditions: discoveryv1.EndpointConditions{Ready: ready}}
}

func addr(s string) netip.Addr { return netip.MustParseAddr(s) }

var (
	httpPort = corev1.ServicePort{Name: "http", Port: 80, NodePort: 30080}
	// plainHTTP is httpPort without a node port.
	plainHTTP = corev1.ServicePort{Name: "http", Port: 80}
	httpEP    = []discoveryv1.EndpointPort{{Name: ptr.To("http"), Port: ptr.To[int32](8080)}, {Name: ptr.To("dns"), Port: ptr.To[int32](5353), Protocol: ptr.To(corev1.ProtocolUDP)}}
)

func TestServicePorts(t *testing.T) {
	dns := corev1.ServicePort{Name: "dns", Port: 53, Protocol: corev1.ProtocolUDP}
	headless := service("headless", corev1.ClusterIPNone, httpPort)
	affine := service("sticky", "10.96.0.20", corev1.ServicePort{Name: "http", Port: 80, NodePort: 30081})
	affine.Spec.SessionAffinity = corev1.ServiceAffinityClientIP
	affine.Spec.SessionAffinityConfig = &corev1.SessionAffinityConfig{ClientIP: &corev1.ClientIPConfig{TimeoutSeconds: ptr.To[int32](60)}}

	got, problems := servicePorts(
		[]corev1alpha1.Service{service("web", "10.96.0.10", httpPort, dns), headless, service("pending", "", httpPort), affine,
			service("empty", "10.96.0.30", corev1.ServicePort{Name: "http", Port: 80, NodePort: 30082})},
		[]corev1alpha1.EndpointSlice{
			slice("web", httpEP, ep("10.244.0.3", nil), ep("10.244.0.2", ptr.To(true)), ep("10.244.0.9", ptr.To(false))),
			slice("web", httpEP, ep("10.244.0.2", ptr.To(true))),
			slice("headless", httpEP, ep("10.244.0.4", nil)),
			slice("sticky", httpEP, ep("10.244.0.5", nil)),
		}, ranges)
	if len(problems) > 0 {
		t.Errorf("well-formed Services reported as problems: %v", problems)
	}
	want := []servicePort{
		{key: "ns/empty:http", clusterIP: addr("10.96.0.30"), protocol: "tcp", port: 80, nodePort: 30082},
		{key: "ns/sticky:http", clusterIP: addr("10.96.0.20"), protocol: "tcp", port: 80, nodePort: 30081, affinity: time.Minute,
			endpoints: []endpoint{{addr("10.244.0.5"), 8080}}},
		{key: "ns/web:dns", clusterIP: addr("10.96.0.10"), protocol: "udp", port: 53, endpoints: []endpoint{{addr("10.244.0.2"), 5353}, {addr("10.244.0.3"), 5353}}},
		{key: "ns/web:http", clusterIP: addr("10.96.0.10"), protocol: "tcp", port: 80, nodePort: 30080,
			endpoints: []endpoint{{addr("10.244.0.2"), 8080}, {addr("10.244.0.3"), 8080}}},
	}
	comparePorts(t, got, want)
}

func comparePorts(t *testing.T, got, want []servicePort) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d ports, want %d: %+v", len(got), len(want), got)
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.key != w.key || g.clusterIP != w.clusterIP || g.protocol != w.protocol || g.port != w.port || g.nodePort != w.nodePort ||
			g.affinity != w.affinity || len(g.endpoints) != len(w.endpoints) {
			t.Errorf("port %d: got %+v, want %+v", i, g, w)
			continue
		}
		for j := range w.endpoints {
			if g.endpoints[j] != w.endpoints[j] {
				t.Errorf("port %s endpoint %d: got %+v, want %+v", w.key, j, g.endpoints[j], w.endpoints[j])
			}
		}
	}
}

// TestServicePortsRefuseHostileInput feeds the proxy what an API user could write
// (admission aside) and checks that each is left out and reported, that nothing of it
// reaches the ruleset, and that a good Service beside it is still served.
func TestServicePortsRefuseHostileInput(t *testing.T) {
	with := func(s corev1alpha1.Service, f func(*corev1alpha1.Service)) corev1alpha1.Service {
		f(&s)
		return s
	}
	cases := []struct {
		name    string
		svc     corev1alpha1.Service
		slices  []corev1alpha1.EndpointSlice
		problem string // in the report; empty when the Service is skipped silently
		served  int    // how many of its ports are programmed
	}{
		{"a newline in spec.clusterIP", service("bad", "10.96.0.9\nflush ruleset", httpPort), nil, "spec.clusterIP", 0},
		{"a cluster IP outside the service range (link-local metadata)", service("bad", "169.254.169.254", httpPort), nil, "service range", 0},
		{"a cluster IP outside the service range (a host address)", service("bad", "192.168.1.1", httpPort), nil, "service range", 0},
		{"an IPv6 cluster IP", service("bad", "fd00::1", httpPort), nil, "service range", 0},
		{"a cluster IP the allocator has not confirmed", with(service("bad", "10.96.0.9", plainHTTP), func(s *corev1alpha1.Service) {
			s.Status.Conditions = nil
		}), nil, "", 0},
		{"a cluster IP the allocator refused", with(service("bad", "10.96.0.9", plainHTTP), func(s *corev1alpha1.Service) {
			s.Status.Conditions[0].Status = metav1.ConditionFalse
		}), nil, "", 0},
		{"a confirmation of an older generation", with(service("bad", "10.96.0.9", plainHTTP), func(s *corev1alpha1.Service) {
			s.Generation = 3
		}), nil, "", 0},
		{"another Service's address and port", service("zbad", "10.96.0.10", plainHTTP), nil, "already served for ns/good:http", 0},
		{"node port 22", service("bad", "10.96.0.9", corev1.ServicePort{Name: "ssh", Port: 22, NodePort: 22}), nil, "nodePort 22 is not in the node port range", 1},
		{"another Service's node port", service("zbad", "10.96.0.9", corev1.ServicePort{Name: "x", Port: 81, NodePort: 30080}), nil, "nodePort 30080 is already served for ns/good:http", 1},
		{"node ports the allocator has not confirmed", with(service("bad", "10.96.0.9", corev1.ServicePort{Name: "x", Port: 81, NodePort: 30081}), func(s *corev1alpha1.Service) {
			s.Status.Conditions = s.Status.Conditions[:1]
		}), nil, "", 1},
		{"port 70000", service("bad", "10.96.0.9", corev1.ServicePort{Name: "x", Port: 70000}), nil, "spec.ports[0].port 70000", 0},
		{"port 0", service("bad", "10.96.0.9", corev1.ServicePort{Name: "x", Port: 0}), nil, "spec.ports[0].port 0", 0},
		{"protocol FOO", service("bad", "10.96.0.9", corev1.ServicePort{Name: "x", Port: 81, Protocol: "FOO"}), nil, `protocol "FOO"`, 0},
		{"a protocol with a newline", service("bad", "10.96.0.9", corev1.ServicePort{Name: "x", Port: 81, Protocol: "tcp\nflush ruleset"}), nil, "protocol", 0},
		{"an affinity timeout beyond a day", with(service("bad", "10.96.0.9", corev1.ServicePort{Name: "x", Port: 81}), func(s *corev1alpha1.Service) {
			s.Spec.SessionAffinity = corev1.ServiceAffinityClientIP
			s.Spec.SessionAffinityConfig = &corev1.SessionAffinityConfig{ClientIP: &corev1.ClientIPConfig{TimeoutSeconds: ptr.To[int32](-5)}}
		}), nil, "timeoutSeconds -5", 1},
		{"an endpoint address with a newline", service("bad", "10.96.0.9", plainHTTP),
			[]corev1alpha1.EndpointSlice{slice("bad", httpEP, ep("10.244.0.7\nflush ruleset", nil))}, "EndpointSlice endpoint address", 1},
		{"a loopback endpoint", service("bad", "10.96.0.9", plainHTTP),
			[]corev1alpha1.EndpointSlice{slice("bad", httpEP, ep("127.0.0.1", nil))}, "EndpointSlice endpoint address", 1},
		{"a link-local endpoint", service("bad", "10.96.0.9", plainHTTP),
			[]corev1alpha1.EndpointSlice{slice("bad", httpEP, ep("169.254.169.254", nil))}, "EndpointSlice endpoint address", 1},
		{"an endpoint port 70000", service("bad", "10.96.0.9", plainHTTP),
			[]corev1alpha1.EndpointSlice{slice("bad", []discoveryv1.EndpointPort{{Name: ptr.To("http"), Port: ptr.To[int32](70000)}}, ep("10.244.0.7", nil))},
			"EndpointSlice endpoint port 70000", 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			// The Services that claim the good one's address or node port sort after it
			// ("zbad"), as a later Service would; the others sort before ("bad").
			svcs := []corev1alpha1.Service{service("good", "10.96.0.10", httpPort), c.svc}
			slices := append([]corev1alpha1.EndpointSlice{slice("good", httpEP, ep("10.244.0.2", nil))}, c.slices...)
			ports, problems := servicePorts(svcs, slices, ranges)

			var goodPorts, badPorts []servicePort
			for _, p := range ports {
				if strings.HasPrefix(p.key, "ns/good:") {
					goodPorts = append(goodPorts, p)
				} else {
					badPorts = append(badPorts, p)
				}
			}
			if len(goodPorts) != 1 || len(goodPorts[0].endpoints) != 1 || goodPorts[0].nodePort != 30080 {
				t.Errorf("the good Service is not served whole beside the bad one: %+v", goodPorts)
			}
			if len(badPorts) != c.served {
				t.Errorf("%d ports of the bad Service programmed, want %d: %+v", len(badPorts), c.served, badPorts)
			}
			for _, p := range badPorts {
				if p.nodePort != 0 && c.problem != "" {
					t.Errorf("the bad Service's node port is programmed: %+v", p)
				}
				if strings.Contains(c.name, "endpoint") && len(p.endpoints) != 0 {
					t.Errorf("the bad endpoint is programmed: %+v", p.endpoints)
				}
			}
			var reported []string
			for _, p := range problems {
				if p.service == "ns/good" {
					t.Errorf("the good Service is reported: %s", p.message)
				}
				reported = append(reported, p.message)
			}
			switch all := strings.Join(reported, "; "); {
			case c.problem == "" && len(problems) > 0:
				t.Errorf("an unconfirmed Service is reported, not skipped silently: %s", all)
			case c.problem != "" && !strings.Contains(all, c.problem):
				t.Errorf("reported %q, want a problem containing %q", all, c.problem)
			}
			script := ruleset("kybern_n1", "kyb*", ports)
			for _, injected := range []string{"flush ruleset", "169.254.169.254", "127.0.0.1", "dport 22 "} {
				if strings.Contains(script, injected) {
					t.Errorf("the ruleset contains %q:\n%s", injected, script)
				}
			}
		})
	}
}
