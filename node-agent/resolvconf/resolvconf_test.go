package resolvconf

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
)

func TestForPod(t *testing.T) {
	host := Parse("# the host's\nnameserver 192.0.2.53\nsearch corp.example\noptions edns0\n")
	d := &Cluster{Server: "10.244.0.1", Domain: "cluster.local", Host: host}
	pod := func(policy corev1.DNSPolicy, hostNet bool, cfg *corev1.PodDNSConfig) *corev1alpha1.Pod {
		p := &corev1alpha1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "shop"}}
		p.Spec.DNSPolicy, p.Spec.HostNetwork, p.Spec.DNSConfig = policy, hostNet, cfg
		return p
	}
	cases := []struct {
		name string
		pod  *corev1alpha1.Pod
		want string
	}{
		{"ClusterFirst by default: the cluster DNS, the namespace's search path, ndots:5", pod("", false, nil),
			"nameserver 10.244.0.1\nsearch shop.svc.cluster.local svc.cluster.local cluster.local corp.example\noptions ndots:5\n"},
		{"Default: the host's", pod(corev1.DNSDefault, false, nil),
			"nameserver 192.0.2.53\nsearch corp.example\noptions edns0\n"},
		{"ClusterFirst on the host network falls back to Default", pod(corev1.DNSClusterFirst, true, nil),
			"nameserver 192.0.2.53\nsearch corp.example\noptions edns0\n"},
		{"ClusterFirstWithHostNet keeps the cluster DNS", pod(corev1.DNSClusterFirstWithHostNet, true, nil),
			"nameserver 10.244.0.1\nsearch shop.svc.cluster.local svc.cluster.local cluster.local corp.example\noptions ndots:5\n"},
		{"None: dnsConfig only", pod(corev1.DNSNone, false, &corev1.PodDNSConfig{Nameservers: []string{"198.51.100.1"},
			Searches: []string{"a.example"}, Options: []corev1.PodDNSConfigOption{{Name: "ndots", Value: ptr.To("2")}}}),
			"nameserver 198.51.100.1\nsearch a.example\noptions ndots:2\n"},
		{"dnsConfig options override the policy's by name", pod("", false, &corev1.PodDNSConfig{
			Options: []corev1.PodDNSConfigOption{{Name: "ndots", Value: ptr.To("1")}, {Name: "rotate"}}}),
			"nameserver 10.244.0.1\nsearch shop.svc.cluster.local svc.cluster.local cluster.local corp.example\noptions ndots:1 rotate\n"},
		{"dnsConfig values that would add lines or words are left out", pod(corev1.DNSNone, false, &corev1.PodDNSConfig{
			Nameservers: []string{"198.51.100.1\nnameserver 203.0.113.66", "198.51.100.2"}, Searches: []string{"a.example b.example", "c.example"},
			Options: []corev1.PodDNSConfigOption{{Name: "ndots", Value: ptr.To("2\noptions debug")}, {Name: "edns0"}}}),
			"nameserver 198.51.100.2\nsearch c.example\noptions edns0\n"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := ForPod(c.pod, d); got != c.want {
				t.Errorf("got\n%s\nwant\n%s", got, c.want)
			}
		})
	}
}
