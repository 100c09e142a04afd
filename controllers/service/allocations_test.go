package service

import (
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	utilnet "k8s.io/apimachinery/pkg/util/net"

	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
)

func newSvc(name string, opts ...func(*corev1alpha1.Service)) *corev1alpha1.Service {
	s := &corev1alpha1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name, UID: types.UID(name)}}
	s.Spec.Type = corev1.ServiceTypeClusterIP
	s.Spec.Ports = []corev1.ServicePort{{Name: "http", Port: 80, Protocol: corev1.ProtocolTCP}}
	for _, o := range opts {
		o(s)
	}
	return s
}

func clusterIP(ip string) func(*corev1alpha1.Service) {
	return func(s *corev1alpha1.Service) { s.Spec.ClusterIP = ip }
}

func nodePort(ports ...int32) func(*corev1alpha1.Service) {
	return func(s *corev1alpha1.Service) {
		s.Spec.Type = corev1.ServiceTypeNodePort
		s.Spec.Ports = nil
		for i, p := range ports {
			s.Spec.Ports = append(s.Spec.Ports, corev1.ServicePort{Port: int32(80 + i), Protocol: corev1.ProtocolTCP, NodePort: p})
		}
	}
}

func svcType(t corev1.ServiceType) func(*corev1alpha1.Service) {
	return func(s *corev1alpha1.Service) { s.Spec.Type = t }
}

func newTestAllocations(t *testing.T, cidr, ports string) *allocations {
	t.Helper()
	ips, err := newIPRange(netip.MustParsePrefix(cidr))
	if err != nil {
		t.Fatal(err)
	}
	return newAllocations(ips, portRange{*utilnet.ParsePortRangeOrDie(ports)})
}

func reasonOf(f *failure) string {
	if f == nil {
		return ""
	}
	return f.reason
}

func TestApply(t *testing.T) {
	cases := []struct {
		name       string
		cidr       string
		ports      string
		before     []*corev1alpha1.Service
		svc        *corev1alpha1.Service
		wantIP     string
		wantIPFail string
		wantNode   []int32
		wantPortF  string
		wantInMsg  string
	}{
		{name: "ClusterIP without an address gets the first above the static band",
			svc: newSvc("a"), wantIP: "10.96.1.1"},
		{name: "the next Service gets the next address",
			before: []*corev1alpha1.Service{newSvc("a")}, svc: newSvc("b"), wantIP: "10.96.1.2"},
		{name: "a requested free address is honoured",
			svc: newSvc("a", clusterIP("10.96.0.10")), wantIP: "10.96.0.10"},
		{name: "the reserved first address is honoured when asked for",
			svc: newSvc("kubernetes", clusterIP("10.96.0.1")), wantIP: "10.96.0.1"},
		{name: "a requested address another Service holds is refused, naming it",
			before: []*corev1alpha1.Service{newSvc("a", clusterIP("10.96.0.10"))}, svc: newSvc("b", clusterIP("10.96.0.10")),
			wantIP: "10.96.0.10", wantIPFail: ReasonAlreadyAllocated, wantInMsg: "spec.clusterIP 10.96.0.10 is already allocated to Service ns/a"},
		{name: "a requested address outside the range is refused, naming the flag",
			svc: newSvc("a", clusterIP("10.0.0.5")), wantIP: "10.0.0.5", wantIPFail: ReasonOutOfRange, wantInMsg: "--service-cluster-ip-range"},
		{name: "the broadcast address is out of range",
			svc: newSvc("a", clusterIP("10.96.255.255")), wantIP: "10.96.255.255", wantIPFail: ReasonOutOfRange},
		{name: "the network address is out of range",
			svc: newSvc("a", clusterIP("10.96.0.0")), wantIP: "10.96.0.0", wantIPFail: ReasonOutOfRange},
		{name: "a malformed address is refused",
			svc: newSvc("a", clusterIP("10.96.0.x")), wantIP: "10.96.0.x", wantIPFail: ReasonInvalid},
		{name: "headless gets no address",
			svc: newSvc("a", clusterIP("None")), wantIP: "None"},
		{name: "ExternalName gets nothing",
			svc: newSvc("a", svcType(corev1.ServiceTypeExternalName)), wantIP: ""},
		{name: "/29 has five addresses to pick after the reserved first: the sixth Service finds it full",
			cidr:   "10.96.0.0/29",
			before: []*corev1alpha1.Service{newSvc("a"), newSvc("b"), newSvc("c"), newSvc("d"), newSvc("e")},
			svc:    newSvc("f"), wantIPFail: ReasonRangeFull, wantInMsg: "widen the manager's --service-cluster-ip-range"},
		{name: "NodePort without node ports gets one per port above the static band",
			svc: newSvc("a", nodePort(0, 0)), wantIP: "10.96.1.1", wantNode: []int32{30086, 30087}},
		{name: "a requested free node port is honoured",
			svc: newSvc("a", nodePort(30080, 0)), wantIP: "10.96.1.1", wantNode: []int32{30080, 30086}},
		{name: "a requested node port another Service holds is refused; the other port is still allocated",
			before: []*corev1alpha1.Service{newSvc("a", nodePort(30080))}, svc: newSvc("b", nodePort(30080, 0)),
			wantIP: "10.96.1.2", wantNode: []int32{30080, 30086}, wantPortF: ReasonAlreadyAllocated,
			wantInMsg: "spec.ports[0].nodePort 30080 is already allocated to Service ns/a"},
		{name: "a node port outside the range is refused, naming the flag",
			svc: newSvc("a", nodePort(80)), wantIP: "10.96.1.1", wantNode: []int32{80}, wantPortF: ReasonOutOfRange,
			wantInMsg: "--service-node-port-range"},
		{name: "a range of two ports is full for a third",
			ports:  "30000-30001",
			before: []*corev1alpha1.Service{newSvc("a", nodePort(0, 0))}, svc: newSvc("b", nodePort(0)),
			wantIP: "10.96.1.2", wantNode: []int32{0}, wantPortF: ReasonRangeFull, wantInMsg: "widen the manager's --service-node-port-range"},
		{name: "ClusterIP keeps no node ports",
			svc: newSvc("a", nodePort(30080), svcType(corev1.ServiceTypeClusterIP)), wantIP: "10.96.1.1", wantNode: []int32{0}},
		{name: "LoadBalancer gets node ports",
			svc: newSvc("a", nodePort(0), svcType(corev1.ServiceTypeLoadBalancer)), wantIP: "10.96.1.1", wantNode: []int32{30086}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := newTestAllocations(t, cmpOr(tc.cidr, "10.96.0.0/16"), cmpOr(tc.ports, "30000-32767"))
			for _, b := range tc.before {
				if res := a.apply(b); res.ipFailure != nil || res.portFailure != nil {
					t.Fatalf("setting up %s: %+v %+v", b.Name, res.ipFailure, res.portFailure)
				}
			}
			svc := tc.svc.DeepCopy()
			res := a.apply(svc)
			if svc.Spec.ClusterIP != tc.wantIP || reasonOf(res.ipFailure) != tc.wantIPFail {
				t.Errorf("clusterIP %q (%s), want %q (%s)", svc.Spec.ClusterIP, reasonOf(res.ipFailure), tc.wantIP, tc.wantIPFail)
			}
			if tc.wantIPFail == "" && tc.wantIP != "" && (!slices.Equal(svc.Spec.ClusterIPs, []string{tc.wantIP}) ||
				!slices.Equal(svc.Spec.IPFamilies, []corev1.IPFamily{corev1.IPv4Protocol}) || *svc.Spec.IPFamilyPolicy != corev1.IPFamilyPolicySingleStack) {
				t.Errorf("defaults: clusterIPs %v, ipFamilies %v, ipFamilyPolicy %v", svc.Spec.ClusterIPs, svc.Spec.IPFamilies, svc.Spec.IPFamilyPolicy)
			}
			var got []int32
			for _, p := range svc.Spec.Ports {
				got = append(got, p.NodePort)
				if p.TargetPort != intstr.FromInt32(p.Port) {
					t.Errorf("port %d: targetPort %v, want it defaulted to the port", p.Port, p.TargetPort)
				}
			}
			if tc.wantNode != nil && !slices.Equal(got, tc.wantNode) || reasonOf(res.portFailure) != tc.wantPortF {
				t.Errorf("node ports %v (%s), want %v (%s)", got, reasonOf(res.portFailure), tc.wantNode, tc.wantPortF)
			}
			if tc.wantInMsg != "" {
				msg := ""
				for _, f := range []*failure{res.ipFailure, res.portFailure} {
					if f != nil {
						msg += f.message
					}
				}
				if !strings.Contains(msg, tc.wantInMsg) || !strings.Contains(msg, "Service ns/"+tc.svc.Name) {
					t.Errorf("message %q, want it to name the Service and contain %q", msg, tc.wantInMsg)
				}
			}
		})
	}
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func TestReleaseFreesAndWakesWaiting(t *testing.T) {
	a := newTestAllocations(t, "10.96.0.0/29", "30000-30001")
	for _, n := range []string{"a", "b", "c", "d", "e"} {
		a.apply(newSvc(n))
	}
	full := newSvc("f", nodePort(0, 0))
	if res := a.apply(full.DeepCopy()); res.ipFailure == nil {
		t.Fatal("want the range full")
	}
	if waiting := a.release("ns/c"); !slices.Equal(waiting, []string{"ns/f"}) {
		t.Fatalf("release woke %v, want [ns/f]", waiting)
	}
	svc := full.DeepCopy()
	if res := a.apply(svc); res.ipFailure != nil || svc.Spec.ClusterIP != "10.96.0.4" {
		t.Fatalf("after the release: %q, %+v; want c's 10.96.0.4", svc.Spec.ClusterIP, res.ipFailure)
	}
	// Changing type to ClusterIP releases the node ports.
	svc.Spec.Type = corev1.ServiceTypeClusterIP
	a.apply(svc)
	other := newSvc("g", nodePort(30000, 30001))
	if res := a.apply(other); res.portFailure != nil {
		t.Fatalf("the node ports were not released: %s", res.portFailure.message)
	}
}

func TestApplyReusesWhatAStaleCopyLacks(t *testing.T) {
	a := newTestAllocations(t, "10.96.0.0/16", "30000-32767")
	stale := newSvc("a", nodePort(0))
	first := stale.DeepCopy()
	a.apply(first)
	// The update went through, but the cache still shows the Service without them.
	again := stale.DeepCopy()
	a.apply(again)
	if again.Spec.ClusterIP != first.Spec.ClusterIP || again.Spec.Ports[0].NodePort != first.Spec.Ports[0].NodePort {
		t.Fatalf("second apply gave %s:%d, want the held %s:%d", again.Spec.ClusterIP, again.Spec.Ports[0].NodePort,
			first.Spec.ClusterIP, first.Spec.Ports[0].NodePort)
	}
}

func TestApplySameNodePortForTCPAndUDP(t *testing.T) {
	a := newTestAllocations(t, "10.96.0.0/16", "30000-32767")
	svc := newSvc("dns", nodePort(30053, 30053))
	svc.Spec.Ports[1].Port, svc.Spec.Ports[1].Protocol = 80, corev1.ProtocolUDP
	if res := a.apply(svc); res.portFailure != nil {
		t.Fatalf("one Service's TCP and UDP port share a node port: %s", res.portFailure.message)
	}
}

func TestObserveKeepsTheOwnerAcrossARestart(t *testing.T) {
	at := func(d time.Duration) func(*corev1alpha1.Service) {
		return func(s *corev1alpha1.Service) { s.CreationTimestamp = metav1.NewTime(time.Unix(1e9, 0).Add(d)) }
	}
	failed := func(s *corev1alpha1.Service) {
		s.Status.Conditions = []metav1.Condition{{Type: corev1alpha1.ServiceClusterIPAllocated, Status: metav1.ConditionFalse}}
	}
	cases := []struct {
		name  string
		svcs  []*corev1alpha1.Service
		owner string
	}{
		{"the older of two Services with one address keeps it",
			[]*corev1alpha1.Service{newSvc("young", clusterIP("10.96.0.9"), at(time.Hour)), newSvc("old", clusterIP("10.96.0.9"), at(0))}, "old"},
		{"a Service already told it lost keeps losing, however old",
			[]*corev1alpha1.Service{newSvc("old", clusterIP("10.96.0.9"), at(0), failed), newSvc("young", clusterIP("10.96.0.9"), at(time.Hour))}, "young"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := newTestAllocations(t, "10.96.0.0/16", "30000-32767")
			a.observe(tc.svcs)
			off, _ := a.ips.offset(netip.MustParseAddr("10.96.0.9"))
			if got := a.ipAlloc.owners[off]; got != "ns/"+tc.owner {
				t.Fatalf("owner %q, want ns/%s", got, tc.owner)
			}
		})
	}
}
