package dns

import (
	"fmt"
	"testing"

	"github.com/miekg/dns"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
)

func TestZone(t *testing.T) {
	web := corev1alpha1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "web"}}
	web.Spec.ClusterIP = "10.96.0.10"
	web.Spec.Ports = []corev1.ServicePort{{Name: "http", Port: 80}}
	db := corev1alpha1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "db"}}
	db.Spec.ClusterIP = corev1.ClusterIPNone
	slice := corev1alpha1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "db-1",
		Labels: map[string]string{discoveryv1.LabelServiceName: "db"}}, AddressType: discoveryv1.AddressTypeIPv4,
		Ports: []discoveryv1.EndpointPort{{Name: ptr.To("sql"), Port: ptr.To[int32](5432)}},
		Endpoints: []discoveryv1.Endpoint{
			{Addresses: []string{"10.244.0.5"}, Hostname: ptr.To("db-0")},
			{Addresses: []string{"10.244.1.6"}},
			{Addresses: []string{"10.244.1.7"}, Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(false)}},
		}}
	z := buildZone("cluster.local.", []corev1alpha1.Service{web, db}, []corev1alpha1.EndpointSlice{slice})

	cases := []struct {
		name  string
		qtype uint16
		rcode int
		want  []string // the answers' data, in order
	}{
		{"web.ns.svc.cluster.local.", dns.TypeA, dns.RcodeSuccess, []string{"10.96.0.10"}},
		{"WEB.ns.svc.cluster.local.", dns.TypeA, dns.RcodeSuccess, []string{"10.96.0.10"}},
		{"_http._tcp.web.ns.svc.cluster.local.", dns.TypeSRV, dns.RcodeSuccess, []string{"0 100 80 web.ns.svc.cluster.local."}},
		{"db.ns.svc.cluster.local.", dns.TypeA, dns.RcodeSuccess, []string{"10.244.0.5", "10.244.1.6"}},
		{"db-0.db.ns.svc.cluster.local.", dns.TypeA, dns.RcodeSuccess, []string{"10.244.0.5"}},
		{"10-244-1-6.db.ns.svc.cluster.local.", dns.TypeA, dns.RcodeSuccess, []string{"10.244.1.6"}},
		{"_sql._tcp.db.ns.svc.cluster.local.", dns.TypeSRV, dns.RcodeSuccess,
			[]string{"0 100 5432 db-0.db.ns.svc.cluster.local.", "0 100 5432 10-244-1-6.db.ns.svc.cluster.local."}},
		{"10-244-1-7.db.ns.svc.cluster.local.", dns.TypeA, dns.RcodeNameError, nil},
		{"web.ns.svc.cluster.local.", dns.TypeAAAA, dns.RcodeSuccess, nil},
		{"ns.svc.cluster.local.", dns.TypeA, dns.RcodeSuccess, nil},
		{"nothing.ns.svc.cluster.local.", dns.TypeA, dns.RcodeNameError, nil},
	}
	for _, c := range cases {
		t.Run(c.name+" "+dns.TypeToString[c.qtype], func(t *testing.T) {
			rrs, rcode := z.answer(dns.Question{Name: c.name, Qtype: c.qtype, Qclass: dns.ClassINET})
			if rcode != c.rcode {
				t.Fatalf("rcode %s, want %s", dns.RcodeToString[rcode], dns.RcodeToString[c.rcode])
			}
			var got []string
			for _, rr := range rrs {
				switch r := rr.(type) {
				case *dns.A:
					got = append(got, r.A.String())
				case *dns.SRV:
					got = append(got, fmt.Sprintf("%d %d %d %s", r.Priority, r.Weight, r.Port, r.Target))
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(c.want) {
				t.Errorf("answers %v, want %v", got, c.want)
			}
		})
	}
}
