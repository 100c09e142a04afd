package daemonset

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"

	appsv1alpha1 "github.com/kybern/kybern/api/apps/v1alpha1"
	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
)

func TestShouldRun(t *testing.T) {
	zone := func(z string) func(*appsv1alpha1.DaemonSet) {
		return func(ds *appsv1alpha1.DaemonSet) { ds.Spec.Template.Spec.NodeSelector = map[string]string{"zone": z} }
	}
	tolerate := func(key string) func(*appsv1alpha1.DaemonSet) {
		return func(ds *appsv1alpha1.DaemonSet) {
			ds.Spec.Template.Spec.Tolerations = []corev1.Toleration{{Key: key, Operator: corev1.TolerationOpExists}}
		}
	}
	affinity := func(op corev1.NodeSelectorOperator, v string) func(*appsv1alpha1.DaemonSet) {
		return func(ds *appsv1alpha1.DaemonSet) {
			ds.Spec.Template.Spec.Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{
				NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "zone", Operator: op, Values: []string{v}}}}}}}}
		}
	}
	cases := []struct {
		name      string
		ds        *appsv1alpha1.DaemonSet
		node      *corev1alpha1.Node
		run, keep bool
	}{
		{"a plain node", newDS(), newNode("a"), true, true},
		{"nodeSelector matches", newDS(zone("east")), newNode("a", nodeLabel("zone", "east")), true, true},
		{"nodeSelector misses", newDS(zone("east")), newNode("a", nodeLabel("zone", "west")), false, false},
		{"required affinity In matches", newDS(affinity(corev1.NodeSelectorOpIn, "east")), newNode("a", nodeLabel("zone", "east")), true, true},
		{"required affinity NotIn misses", newDS(affinity(corev1.NodeSelectorOpNotIn, "east")), newNode("a", nodeLabel("zone", "east")), false, false},
		{"template nodeName names another node", newDS(func(ds *appsv1alpha1.DaemonSet) { ds.Spec.Template.Spec.NodeName = "b" }), newNode("a"), false, false},
		{"untolerated NoSchedule: keep what runs, create nothing", newDS(), newNode("a", taint("dedicated", corev1.TaintEffectNoSchedule)), false, true},
		{"untolerated NoExecute: neither", newDS(), newNode("a", taint("dedicated", corev1.TaintEffectNoExecute)), false, false},
		{"PreferNoSchedule does not count", newDS(), newNode("a", taint("dedicated", corev1.TaintEffectPreferNoSchedule)), true, true},
		{"a tolerated taint", newDS(tolerate("dedicated")), newNode("a", taint("dedicated", corev1.TaintEffectNoExecute)), true, true},
		{"not-ready and unreachable NoExecute are tolerated by every daemon",
			newDS(), newNode("a", taint(corev1.TaintNodeNotReady, corev1.TaintEffectNoExecute), taint(corev1.TaintNodeUnreachable, corev1.TaintEffectNoExecute)), true, true},
		{"a cordoned node under memory pressure", newDS(),
			newNode("a", taint(corev1.TaintNodeUnschedulable, corev1.TaintEffectNoSchedule), taint(corev1.TaintNodeMemoryPressure, corev1.TaintEffectNoSchedule)), true, true},
		{"network-unavailable stops a pod without hostNetwork", newDS(), newNode("a", taint(corev1.TaintNodeNetworkUnavailable, corev1.TaintEffectNoSchedule)), false, true},
		{"network-unavailable is tolerated with hostNetwork", newDS(func(ds *appsv1alpha1.DaemonSet) { ds.Spec.Template.Spec.HostNetwork = true }),
			newNode("a", taint(corev1.TaintNodeNetworkUnavailable, corev1.TaintEffectNoSchedule)), true, true},
		{"unreachable NoSchedule is not tolerated", newDS(), newNode("a", taint(corev1.TaintNodeUnreachable, corev1.TaintEffectNoSchedule)), false, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			run, keep := shouldRun(eligibilityPod(tc.ds), tc.node)
			if run != tc.run || keep != tc.keep {
				t.Fatalf("shouldRun = %v, %v; want %v, %v", run, keep, tc.run, tc.keep)
			}
		})
	}
}

func TestAddDaemonTolerationsReplacesAMatchAndKeepsTheRest(t *testing.T) {
	spec := corev1.PodSpec{Tolerations: []corev1.Toleration{
		{Key: corev1.TaintNodeNotReady, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: ptr.To[int64](30)},
		{Key: "dedicated", Operator: corev1.TolerationOpEqual, Value: "gpu"},
	}}
	addDaemonTolerations(&spec)
	addDaemonTolerations(&spec)
	if len(spec.Tolerations) != 7 {
		t.Fatalf("got %d tolerations, want the user's 2 and 5 more, each once: %v", len(spec.Tolerations), spec.Tolerations)
	}
	if spec.Tolerations[0].TolerationSeconds != nil {
		t.Fatal("a daemon tolerates not-ready forever: the user's tolerationSeconds must go")
	}
	if spec.Tolerations[1].Key != "dedicated" {
		t.Fatalf("the user's own toleration moved or went: %v", spec.Tolerations)
	}
}

func TestTargetNodeAffinity(t *testing.T) {
	preferred := []corev1.PreferredSchedulingTerm{{Weight: 1, Preference: corev1.NodeSelectorTerm{
		MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "zone", Operator: corev1.NodeSelectorOpExists}}}}}
	existing := &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{
		RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{
			{MatchFields: []corev1.NodeSelectorRequirement{{Key: "metadata.name", Operator: corev1.NodeSelectorOpIn, Values: []string{"old"}}}},
			{MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "zone", Operator: corev1.NodeSelectorOpIn, Values: []string{"east"}}}},
		}},
		PreferredDuringSchedulingIgnoredDuringExecution: preferred,
	}}
	for name, in := range map[string]*corev1.Affinity{"none": nil, "empty": {}, "with terms": existing} {
		t.Run(name, func(t *testing.T) {
			got := targetNodeAffinity(in, "a")
			terms := got.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms
			if len(terms) != 1 || len(terms[0].MatchFields) != 1 || terms[0].MatchFields[0].Values[0] != "a" || len(terms[0].MatchExpressions) != 0 {
				t.Fatalf("required terms = %+v; want only metadata.name In [a]", terms)
			}
			p := &corev1alpha1.Pod{}
			p.Spec.Affinity = got
			if targetNode(p) != "a" {
				t.Fatalf("targetNode = %q, want a", targetNode(p))
			}
		})
	}
	if len(existing.NodeAffinity.PreferredDuringSchedulingIgnoredDuringExecution) != 1 {
		t.Fatal("preferred terms must stay")
	}
}

func TestTargetNode(t *testing.T) {
	if got := targetNode(newPod("p", "a", curHash)); got != "a" {
		t.Fatalf("a bound pod is for its node; got %q", got)
	}
	if got := targetNode(newPod("p", "a", curHash, unbound)); got != "a" {
		t.Fatalf("an unbound pod is for the node its affinity names; got %q", got)
	}
	if got := targetNode(newPod("p", "", curHash)); got != "" {
		t.Fatalf("a pod naming no node is for none; got %q", got)
	}
}
