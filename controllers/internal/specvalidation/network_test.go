package specvalidation

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
)

func TestValidateServiceUpdate(t *testing.T) {
	stored := func(change func(*corev1.ServiceSpec)) *corev1alpha1.Service {
		svc := &corev1alpha1.Service{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "ns", ResourceVersion: "1"},
			Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeNodePort, Selector: map[string]string{"app": "web"},
				ClusterIP: "10.96.0.10", ClusterIPs: []string{"10.96.0.10"},
				Ports: []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromInt32(8080), Protocol: corev1.ProtocolTCP, NodePort: 30080}}}}
		if change != nil {
			change(&svc.Spec)
		}
		return svc
	}
	cases := []struct {
		name   string
		update func(*corev1.ServiceSpec)
		want   string // a substring of the refusal; empty when accepted
	}{
		{"clusterIPs left out by an older client", func(s *corev1.ServiceSpec) { s.ClusterIPs = nil }, ""},
		{"a node port left out, for the allocator", func(s *corev1.ServiceSpec) { s.Ports[0].NodePort = 0 }, ""},
		{"clusterIP changed", func(s *corev1.ServiceSpec) { s.ClusterIP, s.ClusterIPs = "10.96.0.11", []string{"10.96.0.11"} }, "may not change once set"},
		{"clusterIPs changed alone", func(s *corev1.ServiceSpec) { s.ClusterIPs = []string{"10.96.0.11"} }, "first value must match `clusterIP`"},
		{"to ClusterIP: the node ports are dropped", func(s *corev1.ServiceSpec) { s.Type = corev1.ServiceTypeClusterIP }, ""},
		{"to ClusterIP naming a node port anew", func(s *corev1.ServiceSpec) {
			s.Type, s.Ports[0].NodePort = corev1.ServiceTypeClusterIP, 30081
		}, "may not be used when `type` is 'ClusterIP'"},
		{"to ExternalName: the cluster IP is dropped", func(s *corev1.ServiceSpec) {
			s.Type, s.ExternalName, s.Selector = corev1.ServiceTypeExternalName, "db.example.com", nil
		}, ""},
		{"a port of 70000", func(s *corev1.ServiceSpec) { s.Ports[0].Port = 70000 }, "between 1 and 65535"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			errs, handled, err := Validate(stored(tc.update), stored(nil))
			if err != nil || !handled {
				t.Fatalf("Validate: handled %v, %v", handled, err)
			}
			got := errs.ToAggregate()
			switch {
			case tc.want == "" && got != nil:
				t.Errorf("refused: %v", got)
			case tc.want != "" && (got == nil || !strings.Contains(got.Error(), tc.want)):
				t.Errorf("got %v; want a refusal containing %q", got, tc.want)
			}
		})
	}
}

func TestValidateNodeAndEndpointSlice(t *testing.T) {
	node := &corev1alpha1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1"}, Spec: corev1.NodeSpec{PodCIDR: "10.244.1.0/24"}}
	if errs, _, _ := Validate(node, nil); len(errs) > 0 {
		t.Fatalf("a node with a pod CIDR: %v", errs)
	}
	moved := node.DeepCopy()
	moved.Spec.PodCIDR = "10.244.2.0/24"
	if errs, _, _ := Validate(moved, node); !strings.Contains(errs.ToAggregate().Error(), "may not change podCIDR") {
		t.Errorf("a pod CIDR moved: %v", errs)
	}
	split := moved.DeepCopy()
	split.Spec.PodCIDR, split.Spec.PodCIDRs = "10.244.1.0/24", []string{"10.244.2.0/24"}
	if errs, _, _ := Validate(split, node); !strings.Contains(errs.ToAggregate().Error(), "spec.podCIDRs[0]: Invalid value") {
		t.Errorf("podCIDRs changed alone: %v", errs)
	}
	eps := &corev1alpha1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Name: "web-1", Namespace: "ns"}, AddressType: "IPv4"}
	eps.Endpoints = []discoveryv1.Endpoint{{Addresses: []string{"10.244.1.5"}}}
	if errs, _, _ := Validate(eps, nil); len(errs) > 0 {
		t.Fatalf("a slice with one endpoint: %v", errs)
	}
	eps.Endpoints[0].Addresses[0] = "10.244.1.5\nflush ruleset"
	if errs, _, _ := Validate(eps, nil); !strings.Contains(errs.ToAggregate().Error(), "endpoints[0].addresses[0]") {
		t.Errorf("an address with a newline: %v", errs)
	}
}
