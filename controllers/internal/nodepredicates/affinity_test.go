package nodepredicates

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
)

func node(name string, kv ...string) *corev1alpha1.Node {
	n := &corev1alpha1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{}}}
	for i := 0; i+1 < len(kv); i += 2 {
		n.Labels[kv[i]] = kv[i+1]
	}
	return n
}

func expr(key string, op corev1.NodeSelectorOperator, values ...string) corev1.NodeSelectorRequirement {
	return corev1.NodeSelectorRequirement{Key: key, Operator: op, Values: values}
}

// requiring is a pod whose required node affinity has the given terms.
func requiring(terms ...corev1.NodeSelectorTerm) *corev1alpha1.Pod {
	p := &corev1alpha1.Pod{}
	p.Spec.Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{NodeSelectorTerms: terms}}}
	return p
}

func TestAffinityMatches(t *testing.T) {
	selecting := func(kv ...string) *corev1alpha1.Pod {
		p := &corev1alpha1.Pod{}
		p.Spec.NodeSelector = map[string]string{}
		for i := 0; i+1 < len(kv); i += 2 {
			p.Spec.NodeSelector[kv[i]] = kv[i+1]
		}
		return p
	}
	zoneNotWest := corev1.NodeSelectorTerm{MatchExpressions: []corev1.NodeSelectorRequirement{expr("zone", corev1.NodeSelectorOpNotIn, "west")}}
	both := requiring(zoneNotWest)
	both.Spec.NodeSelector = map[string]string{"disk": "ssd"}
	cases := []struct {
		name string
		pod  *corev1alpha1.Pod
		node *corev1alpha1.Node
		want bool
	}{
		{"no selector, no affinity: every node", &corev1alpha1.Pod{}, node("a"), true},
		{"nodeSelector zone=east on an east node", selecting("zone", "east"), node("a", "zone", "east"), true},
		{"nodeSelector zone=east on a west node", selecting("zone", "east"), node("a", "zone", "west"), false},
		{"nodeSelector zone=east on an unlabelled node", selecting("zone", "east"), node("a"), false},
		{"required NotIn west on a west node", requiring(zoneNotWest), node("a", "zone", "west"), false},
		{"required NotIn west on an east node", requiring(zoneNotWest), node("a", "zone", "east"), true},
		{"required NotIn west on an unlabelled node", requiring(zoneNotWest), node("a"), true},
		{"required affinity with no terms: no node", requiring(), node("a"), false},
		{"the terms are ORed: the second matches",
			requiring(corev1.NodeSelectorTerm{MatchExpressions: []corev1.NodeSelectorRequirement{expr("zone", corev1.NodeSelectorOpIn, "west")}}, zoneNotWest),
			node("a", "zone", "east"), true},
		{"nodeSelector and affinity: both must hold, affinity fails", both, node("a", "zone", "west", "disk", "ssd"), false},
		{"nodeSelector and affinity: both must hold, selector fails", both, node("a", "zone", "east", "disk", "hdd"), false},
		{"nodeSelector and affinity: both hold", both, node("a", "zone", "east", "disk", "ssd"), true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := AffinityMatches(tc.pod, tc.node); got != tc.want {
				t.Fatalf("AffinityMatches = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestTermMatches(t *testing.T) {
	labelled := func(r ...corev1.NodeSelectorRequirement) corev1.NodeSelectorTerm {
		return corev1.NodeSelectorTerm{MatchExpressions: r}
	}
	fields := func(r ...corev1.NodeSelectorRequirement) corev1.NodeSelectorTerm {
		return corev1.NodeSelectorTerm{MatchFields: r}
	}
	longName := strings.Repeat("n", 64)
	cases := []struct {
		name string
		term corev1.NodeSelectorTerm
		node *corev1alpha1.Node
		want bool
	}{
		{"an empty term matches nothing", corev1.NodeSelectorTerm{}, node("a"), false},
		{"In", labelled(expr("zone", corev1.NodeSelectorOpIn, "east", "north")), node("a", "zone", "north"), true},
		{"In, another value", labelled(expr("zone", corev1.NodeSelectorOpIn, "east")), node("a", "zone", "west"), false},
		{"In without values is malformed", labelled(expr("zone", corev1.NodeSelectorOpIn)), node("a", "zone", "east"), false},
		{"Exists", labelled(expr("gpu", corev1.NodeSelectorOpExists)), node("a", "gpu", ""), true},
		{"Exists with values is malformed", labelled(expr("gpu", corev1.NodeSelectorOpExists, "x")), node("a", "gpu", "x"), false},
		{"DoesNotExist", labelled(expr("gpu", corev1.NodeSelectorOpDoesNotExist)), node("a", "gpu", "1"), false},
		{"every expression must hold", labelled(expr("zone", corev1.NodeSelectorOpIn, "east"), expr("gpu", corev1.NodeSelectorOpExists)), node("a", "zone", "east"), false},
		{"an unknown operator fails the term", labelled(expr("zone", "Like", "east")), node("a", "zone", "east"), false},
		{"an invalid label key fails the term", labelled(expr("bad key", corev1.NodeSelectorOpDoesNotExist)), node("a"), false},
		{"Gt: 8 > 4", labelled(expr("cores", corev1.NodeSelectorOpGt, "4")), node("a", "cores", "8"), true},
		{"Gt: 4 > 4 fails", labelled(expr("cores", corev1.NodeSelectorOpGt, "4")), node("a", "cores", "4"), false},
		{"Lt: 2 < 4", labelled(expr("cores", corev1.NodeSelectorOpLt, "4")), node("a", "cores", "2"), true},
		{"Gt on an absent label fails", labelled(expr("cores", corev1.NodeSelectorOpGt, "-1")), node("a"), false},
		{"Gt on a label that is not an integer fails", labelled(expr("cores", corev1.NodeSelectorOpGt, "4")), node("a", "cores", "many"), false},
		{"Gt with two values is malformed", labelled(expr("cores", corev1.NodeSelectorOpGt, "4", "5")), node("a", "cores", "8"), false},
		{"Lt with a value that is not an integer is malformed", labelled(expr("cores", corev1.NodeSelectorOpLt, "ten")), node("a", "cores", "2"), false},
		{"matchFields metadata.name In, as a DaemonSet pod targets its node", fields(expr("metadata.name", corev1.NodeSelectorOpIn, "b")), node("b"), true},
		{"matchFields metadata.name In, another node", fields(expr("metadata.name", corev1.NodeSelectorOpIn, "b")), node("a"), false},
		{"matchFields metadata.name In with two values matches either", fields(expr("metadata.name", corev1.NodeSelectorOpIn, "a", "b")), node("b"), true},
		{"matchFields metadata.name NotIn", fields(expr("metadata.name", corev1.NodeSelectorOpNotIn, "a")), node("b"), true},
		{"matchFields on another field matches no node", fields(expr("metadata.uid", corev1.NodeSelectorOpNotIn, "x")), node("a"), false},
		{"matchFields metadata.name of a name longer than 63 characters fails, as a label value would",
			fields(expr("metadata.name", corev1.NodeSelectorOpIn, longName)), node(longName), false},
		{"matchExpressions and matchFields must both hold",
			corev1.NodeSelectorTerm{MatchExpressions: []corev1.NodeSelectorRequirement{expr("zone", corev1.NodeSelectorOpIn, "east")},
				MatchFields: []corev1.NodeSelectorRequirement{expr("metadata.name", corev1.NodeSelectorOpIn, "a")}},
			node("a", "zone", "west"), false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := TermMatches(tc.term, tc.node); got != tc.want {
				t.Fatalf("TermMatches = %v, want %v", got, tc.want)
			}
		})
	}
}
