package scheduler

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"
	"k8s.io/apimachinery/pkg/util/sets"

	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
)

// Upstream's reasons for a node failing the inter-pod affinity filter.
const (
	reasonExistingAntiAffinity = "node(s) didn't satisfy existing pods anti-affinity rules"
	reasonAffinity             = "node(s) didn't match pod affinity rules"
	reasonAntiAffinity         = "node(s) didn't match pod anti-affinity rules"
)

// hardPodAffinityWeight is what an existing pod's required affinity to the incoming pod
// adds to a node's score, as upstream's default.
const hardPodAffinityWeight = 1

// nsLabels returns a namespace's labels, for terms with a namespaceSelector; nil for a
// namespace it does not know.
type nsLabels func(namespace string) labels.Set

// topologyPair is one topology domain: nodes whose label key has value.
type topologyPair struct{ key, value string }

// affinityTerm is a pod affinity term resolved against the pod that states it: its
// selector includes matchLabelKeys and mismatchLabelKeys read from that pod's labels.
type affinityTerm struct {
	selector    labels.Selector
	namespaces  sets.Set[string]
	nsSelector  labels.Selector
	topologyKey string
	weight      int64
}

// newAffinityTerm resolves t as stated by owner; field names where t sits, for the error.
func newAffinityTerm(owner *corev1alpha1.Pod, t corev1.PodAffinityTerm, weight int32, field string) (affinityTerm, error) {
	sel, err := metav1.LabelSelectorAsSelector(t.LabelSelector)
	if err != nil {
		return affinityTerm{}, fmt.Errorf("%s.labelSelector: %w", field, err)
	}
	for _, keys := range []struct {
		names []string
		op    selection.Operator
	}{{t.MatchLabelKeys, selection.In}, {t.MismatchLabelKeys, selection.NotIn}} {
		for _, k := range keys.names {
			v, ok := owner.Labels[k]
			if !ok {
				continue
			}
			r, err := labels.NewRequirement(k, keys.op, []string{v})
			if err != nil {
				return affinityTerm{}, fmt.Errorf("%s: label key %q: %w", field, k, err)
			}
			sel = sel.Add(*r)
		}
	}
	term := affinityTerm{selector: sel, namespaces: sets.New(t.Namespaces...), topologyKey: t.TopologyKey, weight: int64(weight)}
	if t.NamespaceSelector != nil {
		if term.nsSelector, err = metav1.LabelSelectorAsSelector(t.NamespaceSelector); err != nil {
			return affinityTerm{}, fmt.Errorf("%s.namespaceSelector: %w", field, err)
		}
	} else if len(t.Namespaces) == 0 {
		term.namespaces.Insert(owner.Namespace)
	}
	return term, nil
}

// matches reports whether p is one of the pods the term selects.
func (t affinityTerm) matches(p *corev1alpha1.Pod, ns nsLabels) bool {
	inNamespace := t.namespaces.Has(p.Namespace) || (t.nsSelector != nil && t.nsSelector.Matches(ns(p.Namespace)))
	return inNamespace && t.selector.Matches(labels.Set(p.Labels))
}

// podTerms are the affinity terms one pod states, resolved.
type podTerms struct {
	affinity, antiAffinity                   []affinityTerm
	preferredAffinity, preferredAntiAffinity []affinityTerm
}

func (pt podTerms) empty() bool {
	return len(pt.affinity)+len(pt.antiAffinity)+len(pt.preferredAffinity)+len(pt.preferredAntiAffinity) == 0
}

// termsOf resolves every pod affinity and anti-affinity term p states.
func termsOf(p *corev1alpha1.Pod) (podTerms, error) {
	var out podTerms
	a := p.Spec.Affinity
	if a == nil {
		return out, nil
	}
	required := func(terms []corev1.PodAffinityTerm, field string) ([]affinityTerm, error) {
		var res []affinityTerm
		for i, t := range terms {
			at, err := newAffinityTerm(p, t, 0, fmt.Sprintf("%s[%d]", field, i))
			if err != nil {
				return nil, err
			}
			res = append(res, at)
		}
		return res, nil
	}
	preferred := func(terms []corev1.WeightedPodAffinityTerm, field string) ([]affinityTerm, error) {
		var res []affinityTerm
		for i, t := range terms {
			at, err := newAffinityTerm(p, t.PodAffinityTerm, t.Weight, fmt.Sprintf("%s[%d].podAffinityTerm", field, i))
			if err != nil {
				return nil, err
			}
			res = append(res, at)
		}
		return res, nil
	}
	var err error
	if pa := a.PodAffinity; pa != nil {
		if out.affinity, err = required(pa.RequiredDuringSchedulingIgnoredDuringExecution, "spec.affinity.podAffinity.requiredDuringSchedulingIgnoredDuringExecution"); err != nil {
			return out, err
		}
		if out.preferredAffinity, err = preferred(pa.PreferredDuringSchedulingIgnoredDuringExecution, "spec.affinity.podAffinity.preferredDuringSchedulingIgnoredDuringExecution"); err != nil {
			return out, err
		}
	}
	if pa := a.PodAntiAffinity; pa != nil {
		if out.antiAffinity, err = required(pa.RequiredDuringSchedulingIgnoredDuringExecution, "spec.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution"); err != nil {
			return out, err
		}
		if out.preferredAntiAffinity, err = preferred(pa.PreferredDuringSchedulingIgnoredDuringExecution, "spec.affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution"); err != nil {
			return out, err
		}
	}
	return out, nil
}

// interPodAffinity is what one decision needs to filter and score nodes by the incoming
// pod's terms and by the terms of the pods already placed, counted per topology domain.
type interPodAffinity struct {
	terms podTerms
	// affinityCounts counts existing pods matching all of the pod's required affinity terms.
	affinityCounts map[topologyPair]int
	// antiCounts counts existing pods matching one of the pod's required anti-affinity terms.
	antiCounts map[topologyPair]int
	// existingAnti counts existing pods whose required anti-affinity selects the pod.
	existingAnti map[topologyPair]int
	// preferences sums the weights of preferred terms, both ways, per domain.
	preferences map[topologyPair]int64
	// selfAffine: the pod matches all its own required affinity terms, so it may be the
	// first of a group whose members must be together.
	selfAffine bool
}

// newInterPodAffinity counts, over every placed pod, what p's terms and theirs say; nil
// when neither p nor any placed pod states a term. Existing pods whose own terms cannot be
// resolved are skipped: they were placed already.
func newInterPodAffinity(p *corev1alpha1.Pod, terms podTerms, infos []*nodeInfo, ns nsLabels) *interPodAffinity {
	if terms.empty() && !anyWithAffinity(infos) {
		return nil
	}
	s := &interPodAffinity{terms: terms, affinityCounts: map[topologyPair]int{}, antiCounts: map[topologyPair]int{},
		existingAnti: map[topologyPair]int{}, preferences: map[topologyPair]int64{}}
	s.selfAffine = matchesAll(terms.affinity, p, ns)
	for _, ni := range infos {
		if ni.node == nil {
			continue
		}
		nodeLabels := ni.node.Labels
		for _, e := range ni.pods {
			s.countIncoming(e, nodeLabels, ns)
			if hasPodAffinity(e) {
				if theirs, err := termsOf(e); err == nil {
					s.countExisting(p, theirs, nodeLabels, ns)
				}
			}
		}
	}
	return s
}

func hasPodAffinity(p *corev1alpha1.Pod) bool {
	a := p.Spec.Affinity
	return a != nil && (a.PodAffinity != nil || a.PodAntiAffinity != nil)
}

func anyWithAffinity(infos []*nodeInfo) bool {
	for _, ni := range infos {
		if ni.withAffinity > 0 {
			return true
		}
	}
	return false
}

// countIncoming counts e, placed on a node with nodeLabels, against the incoming pod's terms.
func (s *interPodAffinity) countIncoming(e *corev1alpha1.Pod, nodeLabels map[string]string, ns nsLabels) {
	if len(s.terms.affinity) > 0 && matchesAll(s.terms.affinity, e, ns) {
		for _, t := range s.terms.affinity {
			if v, ok := nodeLabels[t.topologyKey]; ok {
				s.affinityCounts[topologyPair{t.topologyKey, v}]++
			}
		}
	}
	for _, t := range s.terms.antiAffinity {
		if v, ok := nodeLabels[t.topologyKey]; ok && t.matches(e, ns) {
			s.antiCounts[topologyPair{t.topologyKey, v}]++
		}
	}
	s.prefer(s.terms.preferredAffinity, e, nodeLabels, ns, 1)
	s.prefer(s.terms.preferredAntiAffinity, e, nodeLabels, ns, -1)
}

// countExisting counts what an existing pod's terms, placed on a node with nodeLabels,
// say about the incoming pod p.
func (s *interPodAffinity) countExisting(p *corev1alpha1.Pod, theirs podTerms, nodeLabels map[string]string, ns nsLabels) {
	for _, t := range theirs.antiAffinity {
		if v, ok := nodeLabels[t.topologyKey]; ok && t.matches(p, ns) {
			s.existingAnti[topologyPair{t.topologyKey, v}]++
		}
	}
	for _, t := range theirs.affinity {
		if v, ok := nodeLabels[t.topologyKey]; ok && t.matches(p, ns) {
			s.preferences[topologyPair{t.topologyKey, v}] += hardPodAffinityWeight
		}
	}
	s.prefer(theirs.preferredAffinity, p, nodeLabels, ns, 1)
	s.prefer(theirs.preferredAntiAffinity, p, nodeLabels, ns, -1)
}

// prefer adds sign × weight to the domain of every term in terms that selects target.
func (s *interPodAffinity) prefer(terms []affinityTerm, target *corev1alpha1.Pod, nodeLabels map[string]string, ns nsLabels, sign int64) {
	for _, t := range terms {
		if v, ok := nodeLabels[t.topologyKey]; ok && t.matches(target, ns) {
			s.preferences[topologyPair{t.topologyKey, v}] += sign * t.weight
		}
	}
}

// filter returns "" when n satisfies the required terms both ways, else upstream's reason,
// checked in upstream's order: the pod's affinity, its anti-affinity, then the existing
// pods' anti-affinity.
func (s *interPodAffinity) filter(n *corev1alpha1.Node) string {
	if !s.affinitySatisfied(n) {
		return reasonAffinity
	}
	for _, t := range s.terms.antiAffinity {
		if v, ok := n.Labels[t.topologyKey]; ok && s.antiCounts[topologyPair{t.topologyKey, v}] > 0 {
			return reasonAntiAffinity
		}
	}
	for pair := range s.existingAnti {
		if v, ok := n.Labels[pair.key]; ok && v == pair.value {
			return reasonExistingAntiAffinity
		}
	}
	return ""
}

// affinitySatisfied reports whether n has every topology key of the pod's required
// affinity terms and, in each of those domains, a pod matching them all; or no pod
// anywhere matches them and the pod matches them itself, as the first of its group.
func (s *interPodAffinity) affinitySatisfied(n *corev1alpha1.Node) bool {
	found := true
	for _, t := range s.terms.affinity {
		v, ok := n.Labels[t.topologyKey]
		if !ok {
			return false
		}
		if s.affinityCounts[topologyPair{t.topologyKey, v}] == 0 {
			found = false
		}
	}
	return found || (len(s.affinityCounts) == 0 && s.selfAffine)
}

// score sums the preferred weights of the domains n is in; negative means avoided.
func (s *interPodAffinity) score(n *corev1alpha1.Node) int64 {
	var total int64
	for pair, w := range s.preferences {
		if v, ok := n.Labels[pair.key]; ok && v == pair.value {
			total += w
		}
	}
	return total
}

// matchesAll reports whether p matches every term; false for no terms.
func matchesAll(terms []affinityTerm, p *corev1alpha1.Pod, ns nsLabels) bool {
	if len(terms) == 0 {
		return false
	}
	for _, t := range terms {
		if !t.matches(p, ns) {
			return false
		}
	}
	return true
}
