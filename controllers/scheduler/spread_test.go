package scheduler

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
)

func spread(key string, maxSkew int32, when corev1.UnsatisfiableConstraintAction, opts ...func(*corev1.TopologySpreadConstraint)) func(*corev1alpha1.Pod) {
	return func(p *corev1alpha1.Pod) {
		c := corev1.TopologySpreadConstraint{MaxSkew: maxSkew, TopologyKey: key, WhenUnsatisfiable: when,
			LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}}
		for _, o := range opts {
			o(&c)
		}
		p.Spec.TopologySpreadConstraints = append(p.Spec.TopologySpreadConstraints, c)
	}
}

func TestTopologySpread(t *testing.T) {
	web := func(opts ...func(*corev1alpha1.Pod)) *corev1alpha1.Pod {
		return pod("", append([]func(*corev1alpha1.Pod){withLabels("app", "web")}, opts...)...)
	}
	zoneSkew1 := spread("zone", 1, corev1.DoNotSchedule)
	cases := []struct {
		name    string
		pod     *corev1alpha1.Pod
		extra   []*corev1alpha1.Node
		place   map[int][]*corev1alpha1.Pod
		want    string
		wantMsg string
	}{
		{"maxSkew 1: zone z1 holds 2, z2 none, so z2",
			web(zoneSkew1), nil, map[int][]*corev1alpha1.Pod{0: {web()}, 1: {web()}, 2: {pod(""), pod(""), pod("")}}, "n3", ""},
		{"pods of another namespace or another app do not count",
			web(zoneSkew1), nil, map[int][]*corev1alpha1.Pod{2: {web(inNamespace("other")), pod("", withLabels("app", "db"))}, 0: {web()}}, "n3", ""},
		{"a node without the key cannot take the pod",
			web(zoneSkew1, func(p *corev1alpha1.Pod) { p.Spec.NodeSelector = map[string]string{hostname: "n4"} }),
			[]*corev1alpha1.Node{node("n4", "4", "8Gi")}, nil,
			"", "0/4 nodes are available: 1 node(s) didn't match pod topology spread constraints (missing required label), 3 node(s) didn't match Pod's node affinity/selector."},
		{"minDomains above the domains there are makes the minimum 0",
			web(spread("zone", 1, corev1.DoNotSchedule, func(c *corev1.TopologySpreadConstraint) { c.MinDomains = ptr.To[int32](3) })),
			nil, map[int][]*corev1alpha1.Pod{0: {web()}, 2: {web()}},
			"", "0/3 nodes are available: 3 node(s) didn't match pod topology spread constraints."},
		{"nodeAffinityPolicy Honor (the default) counts only the zones the pod may use",
			web(zoneSkew1, func(p *corev1alpha1.Pod) { p.Spec.NodeSelector = map[string]string{"zone": "z1"} }),
			nil, map[int][]*corev1alpha1.Pod{0: {web()}}, "n2", ""},
		{"nodeAffinityPolicy Ignore counts the empty zone the pod may not use",
			web(spread("zone", 1, corev1.DoNotSchedule, func(c *corev1.TopologySpreadConstraint) {
				c.NodeAffinityPolicy = ptr.To(corev1.NodeInclusionPolicyIgnore)
			}), func(p *corev1alpha1.Pod) { p.Spec.NodeSelector = map[string]string{"zone": "z1"} }),
			nil, map[int][]*corev1alpha1.Pod{0: {web()}},
			"", "0/3 nodes are available: 1 node(s) didn't match Pod's node affinity/selector, 2 node(s) didn't match pod topology spread constraints."},
		{"matchLabelKeys counts only the pod's own revision",
			web(withLabels("hash", "b"), spread("zone", 1, corev1.DoNotSchedule, func(c *corev1.TopologySpreadConstraint) { c.MatchLabelKeys = []string{"hash"} })),
			nil, map[int][]*corev1alpha1.Pod{2: {web(withLabels("hash", "a")), web(withLabels("hash", "a"))}, 0: {web(withLabels("hash", "b"))}}, "n3", ""},
		{"ScheduleAnyway prefers the emptier zone over a less loaded node",
			web(spread("zone", 1, corev1.ScheduleAnyway)), nil,
			map[int][]*corev1alpha1.Pod{0: {web()}, 1: {web()}, 2: {pod(""), pod(""), pod("")}}, "n3", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			infos := threeNodes(tc.place)
			infos = append(infos, infosOf(tc.extra...)...)
			best, msg := pick(tc.pod, infos, noNamespaces)
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
