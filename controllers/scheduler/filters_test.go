package scheduler

import (
	"testing"

	"fmt"

	corev1 "k8s.io/api/core/v1"

	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"

	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
)

func node(name string, cpu, mem string, opts ...func(*corev1alpha1.Node)) *corev1alpha1.Node {
	n := &corev1alpha1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"kubernetes.io/hostname": name}}}
	n.Status.Allocatable = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu), corev1.ResourceMemory: resource.MustParse(mem), corev1.ResourcePods: resource.MustParse("110")}
	n.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}}
	for _, o := range opts {
		o(n)
	}
	return n
}

func pod(cpu string, opts ...func(*corev1alpha1.Pod)) *corev1alpha1.Pod {
	p := &corev1alpha1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns"}}
	c := corev1.Container{Name: "c"}
	if cpu != "" {
		c.Resources.Requests = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu)}
	}
	p.Spec.Containers = []corev1.Container{c}
	for _, o := range opts {
		o(p)
	}
	return p
}

func infosOf(nodes ...*corev1alpha1.Node) []*nodeInfo {
	out := make([]*nodeInfo, len(nodes))
	for i, n := range nodes {
		out[i] = newNodeInfo(n)
	}
	return out
}

func TestPick(t *testing.T) {
	notReady := func(n *corev1alpha1.Node) { n.Status.Conditions[0].Status = corev1.ConditionUnknown }
	cordoned := func(n *corev1alpha1.Node) { n.Spec.Unschedulable = true }
	tainted := func(n *corev1alpha1.Node) {
		n.Spec.Taints = []corev1.Taint{{Key: "dedicated", Value: "gpu", Effect: corev1.TaintEffectNoSchedule}}
	}
	zone := func(z string) func(*corev1alpha1.Node) { return func(n *corev1alpha1.Node) { n.Labels["zone"] = z } }
	cases := []struct {
		name    string
		pod     *corev1alpha1.Pod
		nodes   []*corev1alpha1.Node
		want    string
		wantMsg string
	}{
		{"the only ready node", pod("100m"), []*corev1alpha1.Node{node("a", "1", "1Gi", notReady), node("b", "1", "1Gi")}, "b", ""},
		{"cordoned and tainted nodes refuse; the message counts each reason",
			pod("100m"), []*corev1alpha1.Node{node("a", "1", "1Gi", cordoned), node("b", "1", "1Gi", tainted), node("c", "100m", "1Gi")}, "c", ""},
		{"nothing fits: 0/3 with reasons sorted",
			pod("2"), []*corev1alpha1.Node{node("a", "1", "1Gi"), node("b", "1", "1Gi", tainted), node("c", "1", "1Gi")}, "",
			"0/3 nodes are available: 1 node(s) had untolerated taint {dedicated: gpu}, 2 Insufficient cpu."},
		{"a toleration admits the tainted node",
			pod("100m", func(p *corev1alpha1.Pod) {
				p.Spec.Tolerations = []corev1.Toleration{{Key: "dedicated", Operator: corev1.TolerationOpEqual, Value: "gpu", Effect: corev1.TaintEffectNoSchedule}}
				p.Spec.NodeSelector = map[string]string{"kubernetes.io/hostname": "b"}
			}), []*corev1alpha1.Node{node("a", "1", "1Gi"), node("b", "1", "1Gi", tainted)}, "b", ""},
		{"nodeSelector", pod("", func(p *corev1alpha1.Pod) { p.Spec.NodeSelector = map[string]string{"zone": "east"} }),
			[]*corev1alpha1.Node{node("a", "1", "1Gi", zone("west")), node("b", "1", "1Gi", zone("east"))}, "b", ""},
		{"required node affinity NotIn", pod("", func(p *corev1alpha1.Pod) {
			p.Spec.Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{
				NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "zone", Operator: corev1.NodeSelectorOpNotIn, Values: []string{"west"}}}}}}}}
		}), []*corev1alpha1.Node{node("a", "1", "1Gi", zone("west")), node("b", "1", "1Gi", zone("east"))}, "b", ""},
		{"required node affinity on the field metadata.name, as a DaemonSet pod targets its node", pod("", func(p *corev1alpha1.Pod) {
			p.Spec.Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{
				NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchFields: []corev1.NodeSelectorRequirement{{Key: "metadata.name", Operator: corev1.NodeSelectorOpIn, Values: []string{"b"}}}}}}}}
		}), []*corev1alpha1.Node{node("a", "64", "64Gi"), node("b", "1", "1Gi"), node("c", "64", "64Gi")}, "b", ""},
		{"a matchFields term on another field matches no node", pod("", func(p *corev1alpha1.Pod) {
			p.Spec.Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{
				NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchFields: []corev1.NodeSelectorRequirement{{Key: "metadata.uid", Operator: corev1.NodeSelectorOpIn, Values: []string{"a"}}}}}}}}
		}), []*corev1alpha1.Node{node("a", "1", "1Gi")}, "", "0/1 nodes are available: 1 node(s) didn't match Pod's node affinity/selector."},
		{"preferred node affinity wins over an emptier node", pod("", func(p *corev1alpha1.Pod) {
			p.Spec.Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{PreferredDuringSchedulingIgnoredDuringExecution: []corev1.PreferredSchedulingTerm{
				{Weight: 50, Preference: corev1.NodeSelectorTerm{MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "zone", Operator: corev1.NodeSelectorOpIn, Values: []string{"west"}}}}}}}}
		}), []*corev1alpha1.Node{node("a", "1", "1Gi", zone("west")), node("b", "64", "64Gi", zone("east"))}, "a", ""},
		{"no nodes", pod(""), nil, "", "no nodes available to schedule pods"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			best, msg := pick(tc.pod, infosOf(tc.nodes...), noNamespaces)
			got := ""
			if best != nil {
				got = best.node.Name
			}
			if got != tc.want || msg != tc.wantMsg {
				t.Fatalf("pick = %q, %q; want %q, %q", got, msg, tc.want, tc.wantMsg)
			}
		})
	}
}

func TestResourcesAndPortsCountBoundPods(t *testing.T) {
	ni := newNodeInfo(node("a", "1", "1Gi"))
	bound := pod("700m", func(p *corev1alpha1.Pod) {
		p.Spec.Containers[0].Ports = []corev1.ContainerPort{{ContainerPort: 80, HostPort: 8080}}
	})
	ni.add(bound)
	if why := fits(pod("400m"), ni); why != "Insufficient cpu" {
		t.Fatalf("700m of 1 used, 400m more: %q, want Insufficient cpu", why)
	}
	if why := fits(pod("300m"), ni); why != "" {
		t.Fatalf("700m of 1 used, 300m more fits exactly; got %q", why)
	}
	samePort := pod("", func(p *corev1alpha1.Pod) {
		p.Spec.Containers[0].Ports = []corev1.ContainerPort{{ContainerPort: 81, HostPort: 8080}}
	})
	if why := fits(samePort, ni); why != "node(s) didn't have free ports for the requested pod ports" {
		t.Fatalf("host port taken: %q", why)
	}
}

func TestSpreadsReplicasOfOneOwner(t *testing.T) {
	owned := func(p *corev1alpha1.Pod) {
		p.OwnerReferences = []metav1.OwnerReference{{APIVersion: "apps.kybern.io/v1alpha1", Kind: "ReplicaSet", Name: "rs", UID: "rs-uid", Controller: new(true)}}
	}
	a, b := newNodeInfo(node("a", "4", "4Gi")), newNodeInfo(node("b", "4", "4Gi"))
	a.add(pod("", owned))
	best, _ := pick(pod("", owned), []*nodeInfo{a, b}, noNamespaces)
	if best.node.Name != "b" {
		t.Fatalf("a replica went to %s, beside its sibling; want b", best.node.Name)
	}
}

// noNamespaces knows no namespace's labels.
func noNamespaces(string) labels.Set { return nil }

// placed counts pods on ni, each with its own UID, and returns ni.
func placed(ni *nodeInfo, pods ...*corev1alpha1.Pod) *nodeInfo {
	for _, p := range pods {
		if p.UID == "" {
			p.UID = types.UID(fmt.Sprintf("uid-%d", len(uids)))
			uids = append(uids, p.UID)
		}
		ni.add(p)
	}
	return ni
}

var uids []types.UID

func withLabels(kv ...string) func(*corev1alpha1.Pod) {
	return func(p *corev1alpha1.Pod) {
		if p.Labels == nil {
			p.Labels = map[string]string{}
		}
		for i := 0; i+1 < len(kv); i += 2 {
			p.Labels[kv[i]] = kv[i+1]
		}
	}
}

func inNamespace(ns string) func(*corev1alpha1.Pod) {
	return func(p *corev1alpha1.Pod) { p.Namespace = ns }
}

func nodeLabels(kv ...string) func(*corev1alpha1.Node) {
	return func(n *corev1alpha1.Node) {
		for i := 0; i+1 < len(kv); i += 2 {
			n.Labels[kv[i]] = kv[i+1]
		}
	}
}

func TestHostPortsConflictOnEveryAddress(t *testing.T) {
	withPort := func(ip string, port int32, proto corev1.Protocol) func(*corev1alpha1.Pod) {
		return func(p *corev1alpha1.Pod) {
			p.Spec.Containers[0].Ports = []corev1.ContainerPort{{ContainerPort: 80, HostPort: port, HostIP: ip, Protocol: proto}}
		}
	}
	cases := []struct {
		name          string
		bound, wanted func(*corev1alpha1.Pod)
		conflict      bool
	}{
		{"same port, both on every address", withPort("", 80, ""), withPort("", 80, corev1.ProtocolTCP), true},
		{"one address against every address", withPort("127.0.0.1", 80, ""), withPort("0.0.0.0", 80, ""), true},
		{"two different addresses", withPort("127.0.0.1", 80, ""), withPort("127.0.0.2", 80, ""), false},
		{"another protocol", withPort("", 80, corev1.ProtocolTCP), withPort("", 80, corev1.ProtocolUDP), false},
		{"another port", withPort("", 80, ""), withPort("", 81, ""), false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ni := placed(newNodeInfo(node("a", "1", "1Gi")), pod("", tc.bound))
			got := fits(pod("", tc.wanted), ni) != ""
			if got != tc.conflict {
				t.Fatalf("conflict = %v, want %v", got, tc.conflict)
			}
		})
	}
}

func TestPodsWithoutRequestsSpreadByUpstreamDefaults(t *testing.T) {
	a := placed(newNodeInfo(node("a", "4", "8Gi")), pod(""), pod(""))
	b := placed(newNodeInfo(node("b", "4", "8Gi")), pod(""))
	best, _ := pick(pod(""), []*nodeInfo{a, b}, noNamespaces)
	if best.node.Name != "b" {
		t.Fatalf("a pod without requests went to %s, the busier node; want b", best.node.Name)
	}
}
