package nodepredicates

import (
	"strconv"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"

	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
)

// AffinityMatches reports whether n satisfies both p's nodeSelector (every label, same
// value) and p's required node affinity (any one term). A pod with neither matches every
// node. spec.nodeName is not considered: a caller that honours it checks it first.
func AffinityMatches(p *corev1alpha1.Pod, n *corev1alpha1.Node) bool {
	return labels.SelectorFromSet(p.Spec.NodeSelector).Matches(labels.Set(n.Labels)) && requiredAffinityMatches(p, n)
}

// requiredAffinityMatches reports whether n satisfies p's required node affinity: any one
// of its terms, each term all of its expressions. A required node selector with no terms
// matches no node.
func requiredAffinityMatches(p *corev1alpha1.Pod, n *corev1alpha1.Node) bool {
	a := p.Spec.Affinity
	if a == nil || a.NodeAffinity == nil || a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution == nil {
		return true
	}
	for _, term := range a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms {
		if TermMatches(term, n) {
			return true
		}
	}
	return false
}

// TermMatches reports whether every requirement of term holds for n: matchExpressions
// against n's labels, matchFields against its metadata.name, the only field supported. A
// requirement on another field fails the term, and so does a malformed one: an unknown
// operator, In or NotIn without values, Exists or DoesNotExist with values, Gt or Lt
// without exactly one integer value, or a key or value that is not a valid label key or
// value. matchFields values are checked as label values too, so a metadata.name
// requirement never matches a node whose name is longer than 63 characters. An empty term
// matches nothing, as upstream's.
func TermMatches(term corev1.NodeSelectorTerm, n *corev1alpha1.Node) bool {
	if len(term.MatchExpressions) == 0 && len(term.MatchFields) == 0 {
		return false
	}
	for _, r := range term.MatchExpressions {
		if !requirementMatches(r, labels.Set(n.Labels)) {
			return false
		}
	}
	for _, r := range term.MatchFields {
		if r.Key != "metadata.name" || !requirementMatches(r, labels.Set{"metadata.name": n.Name}) {
			return false
		}
	}
	return true
}

// requirementMatches reports whether set satisfies r. Gt and Lt compare the label's value
// with r's single value as base-10 int64s, and fail when the label is absent or either
// side is not an integer.
func requirementMatches(r corev1.NodeSelectorRequirement, set labels.Set) bool {
	switch r.Operator {
	case corev1.NodeSelectorOpGt, corev1.NodeSelectorOpLt:
		if len(r.Values) != 1 || !set.Has(r.Key) {
			return false
		}
		have, err1 := strconv.ParseInt(set.Get(r.Key), 10, 64)
		bound, err2 := strconv.ParseInt(r.Values[0], 10, 64)
		if err1 != nil || err2 != nil {
			return false
		}
		if r.Operator == corev1.NodeSelectorOpGt {
			return have > bound
		}
		return have < bound
	}
	op := map[corev1.NodeSelectorOperator]selection.Operator{
		corev1.NodeSelectorOpIn: selection.In, corev1.NodeSelectorOpNotIn: selection.NotIn,
		corev1.NodeSelectorOpExists: selection.Exists, corev1.NodeSelectorOpDoesNotExist: selection.DoesNotExist,
	}[r.Operator]
	req, err := labels.NewRequirement(r.Key, op, r.Values)
	if err != nil {
		return false
	}
	return req.Matches(set)
}
