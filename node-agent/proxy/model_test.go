package proxy

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
)

func service(name, ip string, ports ...corev1.ServicePort) corev1alpha1.Service {
	s := corev1alpha1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name}}
	s.Spec.ClusterIP, s.Spec.Ports = ip, ports
	return s
}

func slice(svc string, ports []discoveryv1.EndpointPort, eps ...discoveryv1.Endpoint) corev1alpha1.EndpointSlice {
	return corev1alpha1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: svc + "-x",
		Labels: map[string]string{discoveryv1.LabelServiceName: svc}}, AddressType: discoveryv1.AddressTypeIPv4, Ports: ports, Endpoints: eps}
}

func ep(ip string, ready *bool) discoveryv1.Endpoint {
	return discoveryv1.Endpoint{Addresses: []string{ip}, Conditions: discoveryv1.EndpointConditions{Ready: ready}}
}

func TestServicePorts(t *testing.T) {
	http := corev1.ServicePort{Name: "http", Port: 80, NodePort: 30080}
	dns := corev1.ServicePort{Name: "dns", Port: 53, Protocol: corev1.ProtocolUDP}
	httpEP := []discoveryv1.EndpointPort{{Name: ptr.To("http"), Port: ptr.To[int32](8080)}, {Name: ptr.To("dns"), Port: ptr.To[int32](5353), Protocol: ptr.To(corev1.ProtocolUDP)}}
	headless := service("headless", corev1.ClusterIPNone, http)
	affine := service("sticky", "10.96.0.20", http)
	affine.Spec.SessionAffinity = corev1.ServiceAffinityClientIP
	affine.Spec.SessionAffinityConfig = &corev1.SessionAffinityConfig{ClientIP: &corev1.ClientIPConfig{TimeoutSeconds: ptr.To[int32](60)}}

	got := servicePorts(
		[]corev1alpha1.Service{service("web", "10.96.0.10", http, dns), headless, service("pending", "", http), affine, service("empty", "10.96.0.30", http)},
		[]corev1alpha1.EndpointSlice{
			slice("web", httpEP, ep("10.244.0.3", nil), ep("10.244.0.2", ptr.To(true)), ep("10.244.0.9", ptr.To(false))),
			slice("web", httpEP, ep("10.244.0.2", ptr.To(true))),
			slice("headless", httpEP, ep("10.244.0.4", nil)),
			slice("sticky", httpEP, ep("10.244.0.5", nil)),
		})
	want := []servicePort{
		{key: "ns/empty:http", clusterIP: "10.96.0.30", protocol: "tcp", port: 80, nodePort: 30080},
		{key: "ns/sticky:http", clusterIP: "10.96.0.20", protocol: "tcp", port: 80, nodePort: 30080, affinity: time.Minute,
			endpoints: []endpoint{{"10.244.0.5", 8080}}},
		{key: "ns/web:dns", clusterIP: "10.96.0.10", protocol: "udp", port: 53, endpoints: []endpoint{{"10.244.0.2", 5353}, {"10.244.0.3", 5353}}},
		{key: "ns/web:http", clusterIP: "10.96.0.10", protocol: "tcp", port: 80, nodePort: 30080,
			endpoints: []endpoint{{"10.244.0.2", 8080}, {"10.244.0.3", 8080}}},
	}
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
