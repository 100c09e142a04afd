package scheduler

import (
	"fmt"
	"math"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
	"github.com/kybern/kybern/controllers/internal/nodepredicates"
)

// The weight of each score part, as upstream's default profile weighs its score plugins.
// Every part is 0–100 before weighting.
const (
	weightTaints       = 3
	weightNodeAffinity = 2
	weightSpread       = 2
	weightPodAffinity  = 2
	weightLeastUsed    = 1
	weightBalanced     = 1
)

// candidate is a node the pod fits on, with the raw score parts that are normalised
// across all candidates.
type candidate struct {
	info                 *nodeInfo
	taints, nodeAffinity float64
	spread, podAffinity  float64
	fixed                float64 // parts already 0–100, weighted
}

// pick returns the fitting node with the best score, the lowest name among equals, or
// nil and upstream's message saying why no node fits.
func pick(p *corev1alpha1.Pod, infos []*nodeInfo, ns nsLabels) (*nodeInfo, string) {
	return pickOn(p, infos, ns, "")
}

// pickOn is pick for a pod whose volumes tie it to volumeNode, when not empty.
func pickOn(p *corev1alpha1.Pod, infos []*nodeInfo, ns nsLabels, volumeNode string) (*nodeInfo, string) {
	terms, err := termsOf(p)
	if err != nil {
		return nil, err.Error()
	}
	hard, err := spreadConstraintsOf(p, true)
	if err != nil {
		return nil, err.Error()
	}
	soft, err := spreadConstraintsOf(p, false)
	if err != nil {
		return nil, err.Error()
	}
	affinity := newInterPodAffinity(p, terms, infos, ns)
	hardSpread := newTopologySpread(p, hard, infos)
	softSpread := newTopologySpread(p, soft, infos)

	var candidates []candidate
	nodes := 0
	reasons := map[string]int{}
	for _, ni := range infos {
		if ni.node == nil {
			continue
		}
		nodes++
		why := fits(p, ni)
		if why == "" && volumeNode != "" && ni.node.Name != volumeNode {
			why = volumeConflict
		}
		if why == "" && hardSpread != nil {
			why = hardSpread.filter(ni.node)
		}
		if why == "" && affinity != nil {
			why = affinity.filter(ni.node)
		}
		if why != "" {
			reasons[why]++
			continue
		}
		candidates = append(candidates, rawScore(p, ni, affinity, softSpread))
	}
	if len(candidates) == 0 {
		return nil, unschedulableMessage(nodes, reasons)
	}
	return best(candidates, softSpread != nil), ""
}

// rawScore computes the score parts of one fitting node.
func rawScore(p *corev1alpha1.Pod, ni *nodeInfo, affinity *interPodAffinity, softSpread *topologySpread) candidate {
	c := candidate{info: ni}
	for _, t := range ni.node.Spec.Taints {
		if t.Effect == corev1.TaintEffectPreferNoSchedule && !nodepredicates.Tolerates(p.Spec.Tolerations, t) {
			c.taints++
		}
	}
	if a := p.Spec.Affinity; a != nil && a.NodeAffinity != nil {
		for _, t := range a.NodeAffinity.PreferredDuringSchedulingIgnoredDuringExecution {
			if nodepredicates.TermMatches(t.Preference, ni.node) {
				c.nodeAffinity += float64(t.Weight)
			}
		}
	}
	if softSpread != nil {
		c.spread = softSpread.crowding(ni.node)
	} else if owner := ownerUID(p); owner != "" {
		c.spread = float64(ni.owners[owner])
	}
	if affinity != nil {
		c.podAffinity = float64(affinity.score(ni.node))
	}
	cpu, mem := nonZeroRequests(p)
	cpuFrac := fraction(ni.nonZeroMilliCPU+cpu, ni.node.Status.Allocatable.Cpu().MilliValue())
	memFrac := fraction(ni.nonZeroMemory+mem, ni.node.Status.Allocatable.Memory().Value())
	c.fixed = weightLeastUsed*100*(1-(cpuFrac+memFrac)/2) + weightBalanced*100*(1-math.Abs(cpuFrac-memFrac)/2)
	return c
}

// best normalises the parts that depend on the other candidates and returns the node with
// the highest total. A replica's siblings spread it by their count, 100/(1+count); soft
// topology spread constraints instead rank the least crowded 100 and the most crowded 0.
func best(candidates []candidate, softSpread bool) *nodeInfo {
	lo, hi := bounds(candidates)
	var winner *nodeInfo
	var top float64
	for _, c := range candidates {
		s := c.fixed
		s += weightTaints * reversed(c.taints, lo.taints, hi.taints)
		if hi.nodeAffinity > 0 {
			s += weightNodeAffinity * 100 * c.nodeAffinity / hi.nodeAffinity
		}
		if softSpread {
			s += weightSpread * reversed(c.spread, lo.spread, hi.spread)
		} else {
			s += weightSpread * 100 / (1 + c.spread)
		}
		if hi.podAffinity > lo.podAffinity {
			s += weightPodAffinity * 100 * (c.podAffinity - lo.podAffinity) / (hi.podAffinity - lo.podAffinity)
		}
		if winner == nil || s > top || (s == top && c.info.node.Name < winner.node.Name) {
			winner, top = c.info, s
		}
	}
	return winner
}

// bounds returns the smallest and largest finite value of each normalised part.
func bounds(candidates []candidate) (lo, hi candidate) {
	lo = candidate{taints: math.Inf(1), nodeAffinity: math.Inf(1), spread: math.Inf(1), podAffinity: math.Inf(1)}
	hi = candidate{taints: math.Inf(-1), nodeAffinity: math.Inf(-1), spread: math.Inf(-1), podAffinity: math.Inf(-1)}
	for _, c := range candidates {
		lo.taints, hi.taints = math.Min(lo.taints, c.taints), math.Max(hi.taints, c.taints)
		lo.nodeAffinity, hi.nodeAffinity = math.Min(lo.nodeAffinity, c.nodeAffinity), math.Max(hi.nodeAffinity, c.nodeAffinity)
		if !math.IsInf(c.spread, 1) {
			lo.spread, hi.spread = math.Min(lo.spread, c.spread), math.Max(hi.spread, c.spread)
		}
		lo.podAffinity, hi.podAffinity = math.Min(lo.podAffinity, c.podAffinity), math.Max(hi.podAffinity, c.podAffinity)
	}
	return lo, hi
}

// reversed maps v in [lo, hi] to 100 for lo and 0 for hi; 100 when all are equal, 0 for
// a value beyond hi.
func reversed(v, lo, hi float64) float64 {
	switch {
	case v > hi:
		return 0
	case hi <= lo:
		return 100
	default:
		return 100 * (hi - v) / (hi - lo)
	}
}

// fraction is used/total capped at 1; 1 for no total, so a node without the resource
// scores as full.
func fraction(used, total int64) float64 {
	if total <= 0 {
		return 1
	}
	return math.Min(1, float64(used)/float64(total))
}

// unschedulableMessage is upstream's "0/N nodes are available: …" with reasons sorted.
func unschedulableMessage(nodes int, reasons map[string]int) string {
	if nodes == 0 {
		return "no nodes available to schedule pods"
	}
	parts := make([]string, 0, len(reasons))
	for why, n := range reasons {
		parts = append(parts, fmt.Sprintf("%d %s", n, why))
	}
	sort.Strings(parts)
	return fmt.Sprintf("0/%d nodes are available: %s.", nodes, strings.Join(parts, ", "))
}

func ownerUID(p *corev1alpha1.Pod) string {
	if ref := metav1.GetControllerOfNoCopy(p); ref != nil {
		return string(ref.UID)
	}
	return ""
}
