package scheduler

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
)

func term(topologyKey string, kv ...string) corev1.PodAffinityTerm {
	sel := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		sel[kv[i]] = kv[i+1]
	}
	return corev1.PodAffinityTerm{TopologyKey: topologyKey, LabelSelector: &metav1.LabelSelector{MatchLabels: sel}}
}

func affinity(terms ...corev1.PodAffinityTerm) func(*corev1alpha1.Pod) {
	return func(p *corev1alpha1.Pod) {
		p.Spec.Affinity = &corev1.Affinity{PodAffinity: &corev1.PodAffinity{RequiredDuringSchedulingIgnoredDuringExecution: terms}}
	}
}

func antiAffinity(terms ...corev1.PodAffinityTerm) func(*corev1alpha1.Pod) {
	return func(p *corev1alpha1.Pod) {
		p.Spec.Affinity = &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{RequiredDuringSchedulingIgnoredDuringExecution: terms}}
	}
}

const hostname = "kubernetes.io/hostname"

// threeNodes are n1 and n2 in zone z1, n3 in zone z2; place puts pods on them by index.
func threeNodes(place map[int][]*corev1alpha1.Pod) []*nodeInfo {
	infos := infosOf(node("n1", "4", "8Gi", nodeLabels("zone", "z1")), node("n2", "4", "8Gi", nodeLabels("zone", "z1")),
		node("n3", "4", "8Gi", nodeLabels("zone", "z2")))
	for i, pods := range place {
		placed(infos[i], pods...)
	}
	return infos
}

func TestInterPodAffinity(t *testing.T) {
	db := func() *corev1alpha1.Pod { return pod("", withLabels("app", "db")) }
	web := func(opts ...func(*corev1alpha1.Pod)) *corev1alpha1.Pod {
		return pod("", append([]func(*corev1alpha1.Pod){withLabels("app", "web")}, opts...)...)
	}
	namespaces := func(name string) labels.Set {
		if name == "other" {
			return labels.Set{"team": "data"}
		}
		return nil
	}
	cases := []struct {
		name    string
		pod     *corev1alpha1.Pod
		place   map[int][]*corev1alpha1.Pod
		want    string
		wantMsg string
	}{
		{"affinity by hostname goes to the node of the matching pod",
			pod("", affinity(term(hostname, "app", "db"))), map[int][]*corev1alpha1.Pod{1: {db()}}, "n2", ""},
		{"affinity by zone admits the other node of that zone, the emptier one",
			pod("", affinity(term("zone", "app", "db"))), map[int][]*corev1alpha1.Pod{0: {db()}}, "n2", ""},
		{"a matching pod in another namespace does not count by default",
			pod("", affinity(term(hostname, "app", "db"))), map[int][]*corev1alpha1.Pod{0: {pod("", withLabels("app", "db"), inNamespace("other"))}},
			"", "0/3 nodes are available: 3 node(s) didn't match pod affinity rules."},
		{"namespaces names the other namespace",
			pod("", affinity(func() corev1.PodAffinityTerm {
				t := term(hostname, "app", "db")
				t.Namespaces = []string{"other"}
				return t
			}())), map[int][]*corev1alpha1.Pod{0: {pod("", withLabels("app", "db"), inNamespace("other"))}}, "n1", ""},
		{"namespaceSelector selects the other namespace by its labels",
			pod("", affinity(func() corev1.PodAffinityTerm {
				t := term(hostname, "app", "db")
				t.NamespaceSelector = &metav1.LabelSelector{MatchLabels: map[string]string{"team": "data"}}
				return t
			}())), map[int][]*corev1alpha1.Pod{2: {pod("", withLabels("app", "db"), inNamespace("other"))}}, "n3", ""},
		{"the first pod of a group that must be together goes anywhere",
			pod("", withLabels("app", "db"), affinity(term(hostname, "app", "db"))), nil, "n1", ""},
		{"a topology key no node has fits nowhere",
			pod("", withLabels("app", "db"), affinity(term("rack", "app", "db"))), map[int][]*corev1alpha1.Pod{0: {db()}},
			"", "0/3 nodes are available: 3 node(s) didn't match pod affinity rules."},
		{"anti-affinity by hostname avoids each node with a matching pod",
			web(antiAffinity(term(hostname, "app", "web"))), map[int][]*corev1alpha1.Pod{0: {web()}, 1: {web()}, 2: {pod(""), pod("")}}, "n3", ""},
		{"anti-affinity by zone avoids the whole zone",
			web(antiAffinity(term("zone", "app", "web"))), map[int][]*corev1alpha1.Pod{0: {web()}}, "n3", ""},
		{"an existing pod's anti-affinity keeps the pod out of its zone, though the pod states none",
			web(), map[int][]*corev1alpha1.Pod{0: {pod("", antiAffinity(term("zone", "app", "web")))}, 2: {pod("", antiAffinity(term("zone", "app", "web")))}},
			"", "0/3 nodes are available: 3 node(s) didn't satisfy existing pods anti-affinity rules."},
		{"matchLabelKeys narrows anti-affinity to the pod's own version",
			web(withLabels("version", "v2"), antiAffinity(func() corev1.PodAffinityTerm {
				t := term(hostname, "app", "web")
				t.MatchLabelKeys = []string{"version"}
				return t
			}())),
			map[int][]*corev1alpha1.Pod{0: {web(withLabels("version", "v2"))}, 1: {web(withLabels("version", "v2"))}, 2: {web(withLabels("version", "v1"))}}, "n3", ""},
		{"preferred anti-affinity outweighs a busier node",
			web(func(p *corev1alpha1.Pod) {
				p.Spec.Affinity = &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{PreferredDuringSchedulingIgnoredDuringExecution: []corev1.WeightedPodAffinityTerm{
					{Weight: 100, PodAffinityTerm: term(hostname, "app", "web")}}}}
			}), map[int][]*corev1alpha1.Pod{0: {web()}, 1: {web()}, 2: {pod(""), pod(""), pod("")}}, "n3", ""},
		{"preferred affinity draws the pod to the zone of its match",
			pod("", func(p *corev1alpha1.Pod) {
				p.Spec.Affinity = &corev1.Affinity{PodAffinity: &corev1.PodAffinity{PreferredDuringSchedulingIgnoredDuringExecution: []corev1.WeightedPodAffinityTerm{
					{Weight: 10, PodAffinityTerm: term("zone", "app", "db")}}}}
			}), map[int][]*corev1alpha1.Pod{2: {db()}}, "n3", ""},
		{"an invalid selector names the field",
			pod("", affinity(corev1.PodAffinityTerm{TopologyKey: hostname, LabelSelector: &metav1.LabelSelector{
				MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "app", Operator: "Sometimes"}}}})), nil,
			"", `spec.affinity.podAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].labelSelector: "Sometimes" is not a valid label selector operator`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			best, msg := pick(tc.pod, threeNodes(tc.place), namespaces)
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
