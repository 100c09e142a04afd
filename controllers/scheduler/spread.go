package scheduler

import (
	"fmt"
	"math"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"

	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
	"github.com/kybern/kybern/controllers/internal/nodepredicates"
)

// Upstream's reasons for a node failing the topology spread filter.
const (
	reasonSpreadMissingLabel = "node(s) didn't match pod topology spread constraints (missing required label)"
	reasonSpread             = "node(s) didn't match pod topology spread constraints"
)

// spreadConstraint is a topology spread constraint resolved against its pod: the
// selector includes matchLabelKeys read from the pod's labels.
type spreadConstraint struct {
	maxSkew     int32
	key         string
	selector    labels.Selector
	minDomains  int32
	honourNodes bool // nodeAffinityPolicy Honor (the default): count only nodes the pod may use
	honourTaint bool // nodeTaintsPolicy Honor: count only nodes whose taints the pod tolerates
	selfMatch   int  // 1 when the pod itself matches the selector
}

// spreadConstraintsOf resolves p's constraints that have whenUnsatisfiable DoNotSchedule
// (hard) or ScheduleAnyway (not hard).
func spreadConstraintsOf(p *corev1alpha1.Pod, hard bool) ([]spreadConstraint, error) {
	var out []spreadConstraint
	for i, c := range p.Spec.TopologySpreadConstraints {
		if (c.WhenUnsatisfiable == corev1.DoNotSchedule) != hard {
			continue
		}
		field := fmt.Sprintf("spec.topologySpreadConstraints[%d]", i)
		sel, err := metav1.LabelSelectorAsSelector(c.LabelSelector)
		if err != nil {
			return nil, fmt.Errorf("%s.labelSelector: %w", field, err)
		}
		for _, k := range c.MatchLabelKeys {
			if v, ok := p.Labels[k]; ok {
				r, err := labels.NewRequirement(k, selection.In, []string{v})
				if err != nil {
					return nil, fmt.Errorf("%s.matchLabelKeys: %q: %w", field, k, err)
				}
				sel = sel.Add(*r)
			}
		}
		sc := spreadConstraint{maxSkew: c.MaxSkew, key: c.TopologyKey, selector: sel,
			honourNodes: c.NodeAffinityPolicy == nil || *c.NodeAffinityPolicy == corev1.NodeInclusionPolicyHonor,
			honourTaint: c.NodeTaintsPolicy != nil && *c.NodeTaintsPolicy == corev1.NodeInclusionPolicyHonor}
		if c.MinDomains != nil {
			sc.minDomains = *c.MinDomains
		}
		if sel.Matches(labels.Set(p.Labels)) {
			sc.selfMatch = 1
		}
		out = append(out, sc)
	}
	return out, nil
}

// topologySpread counts, per domain, the pods each constraint selects, over the nodes
// the constraint counts.
type topologySpread struct {
	constraints []spreadConstraint
	counts      map[topologyPair]int
	// minimum is the smallest count among each constraint's domains; domains how many
	// domains it has.
	minimum, domains []int
}

// newTopologySpread counts constraints over infos for pod p; nil without constraints.
func newTopologySpread(p *corev1alpha1.Pod, constraints []spreadConstraint, infos []*nodeInfo) *topologySpread {
	if len(constraints) == 0 {
		return nil
	}
	s := &topologySpread{constraints: constraints, counts: map[topologyPair]int{}}
	for _, ni := range infos {
		if ni.node == nil || !hasAllKeys(ni.node, constraints) {
			continue
		}
		for _, c := range constraints {
			if (c.honourNodes && !nodepredicates.AffinityMatches(p, ni.node)) || (c.honourTaint && nodepredicates.UntoleratedTaint(p, ni.node) != nil) {
				continue
			}
			pair := topologyPair{c.key, ni.node.Labels[c.key]}
			s.counts[pair] += countSelected(ni, c.selector, p.Namespace)
		}
	}
	for _, c := range constraints {
		lowest, n := math.MaxInt, 0
		for pair, count := range s.counts {
			if pair.key == c.key {
				n++
				lowest = min(lowest, count)
			}
		}
		if n == 0 || n < int(c.minDomains) {
			lowest = 0
		}
		s.minimum = append(s.minimum, lowest)
		s.domains = append(s.domains, n)
	}
	return s
}

// filter returns "" when placing the pod on n keeps every constraint's skew within
// maxSkew, else upstream's reason.
func (s *topologySpread) filter(n *corev1alpha1.Node) string {
	if !hasAllKeys(n, s.constraints) {
		return reasonSpreadMissingLabel
	}
	for i, c := range s.constraints {
		skew := s.counts[topologyPair{c.key, n.Labels[c.key]}] + c.selfMatch - s.minimum[i]
		if skew > int(c.maxSkew) {
			return reasonSpread
		}
	}
	return ""
}

// crowding is how many selected pods n's domains already hold, each constraint weighted
// by the log of its domain count as upstream weighs them; lower is better. A node missing
// a key is the most crowded.
func (s *topologySpread) crowding(n *corev1alpha1.Node) float64 {
	if !hasAllKeys(n, s.constraints) {
		return math.Inf(1)
	}
	var total float64
	for i, c := range s.constraints {
		total += float64(s.counts[topologyPair{c.key, n.Labels[c.key]}]) * math.Log(float64(s.domains[i]+2))
	}
	return total
}

func hasAllKeys(n *corev1alpha1.Node, constraints []spreadConstraint) bool {
	for _, c := range constraints {
		if _, ok := n.Labels[c.key]; !ok {
			return false
		}
	}
	return true
}

// countSelected counts the pods on ni in namespace that sel selects, leaving out pods
// being deleted, as upstream does.
func countSelected(ni *nodeInfo, sel labels.Selector, namespace string) int {
	n := 0
	for _, p := range ni.pods {
		if p.Namespace == namespace && p.DeletionTimestamp == nil && sel.Matches(labels.Set(p.Labels)) {
			n++
		}
	}
	return n
}
