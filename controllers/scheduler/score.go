package scheduler

import (
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
)

// score ranks a node that p fits on; higher is better. It adds three parts, each 0–100:
//   - spread: fewer pods of p's controller already on the node, so that replicas land on
//     different nodes (100 with none, 50 with one, 33 with two, …);
//   - least allocated: the share of the node's cpu and memory left once p is added;
//   - preferred node affinity: the weights of the preferred terms the node matches,
//     capped at 100.
func score(p *corev1alpha1.Pod, ni *nodeInfo) int64 {
	var s int64
	if owner := ownerUID(p); owner != "" {
		s += 100 / int64(1+ni.owners[owner])
	} else {
		s += 100
	}
	req := podRequests(p)
	var used float64
	for _, name := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		q := ni.requested[name].DeepCopy()
		q.Add(req[name])
		used += quantityRatio(q, ni.node.Status.Allocatable[name])
	}
	s += int64(100 * max(0, 1-used/2))
	if a := p.Spec.Affinity; a != nil && a.NodeAffinity != nil {
		var w int64
		for _, t := range a.NodeAffinity.PreferredDuringSchedulingIgnoredDuringExecution {
			if termMatches(t.Preference, ni.node) {
				w += int64(t.Weight)
			}
		}
		s += min(w, 100)
	}
	return s
}

// pick returns the fitting node with the best score, the lowest name among equals, or
// nil and upstream's message saying why no node fits.
func pick(p *corev1alpha1.Pod, infos []*nodeInfo) (*nodeInfo, string) {
	var best *nodeInfo
	var bestScore int64
	reasons := map[string]int{}
	for _, ni := range infos {
		if why := fits(p, ni); why != "" {
			reasons[why]++
			continue
		}
		s := score(p, ni)
		if best == nil || s > bestScore || (s == bestScore && ni.node.Name < best.node.Name) {
			best, bestScore = ni, s
		}
	}
	if best != nil {
		return best, ""
	}
	if len(infos) == 0 {
		return nil, "no nodes available to schedule pods"
	}
	parts := make([]string, 0, len(reasons))
	for why, n := range reasons {
		parts = append(parts, fmt.Sprintf("%d %s", n, why))
	}
	sort.Strings(parts)
	return nil, fmt.Sprintf("0/%d nodes are available: %s.", len(infos), strings.Join(parts, ", "))
}

func ownerUID(p *corev1alpha1.Pod) string {
	if ref := metav1.GetControllerOfNoCopy(p); ref != nil {
		return string(ref.UID)
	}
	return ""
}
