package scheduler

import (
	"fmt"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"

	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
)

// hostPort is a port a container asks the node to bind; an empty ip is normalised to
// 0.0.0.0, every address.
type hostPort struct {
	protocol corev1.Protocol
	ip       string
	port     int32
}

// conflicts reports whether two host ports cannot both be bound: same protocol and port,
// and the same address or either on every address.
func (h hostPort) conflicts(o hostPort) bool {
	return h.protocol == o.protocol && h.port == o.port && (h.ip == o.ip || h.ip == "0.0.0.0" || o.ip == "0.0.0.0")
}

func hostPorts(p *corev1alpha1.Pod) []hostPort {
	var out []hostPort
	for _, c := range p.Spec.Containers {
		for _, port := range c.Ports {
			if port.HostPort <= 0 {
				continue
			}
			h := hostPort{protocol: port.Protocol, ip: port.HostIP, port: port.HostPort}
			if h.protocol == "" {
				h.protocol = corev1.ProtocolTCP
			}
			if h.ip == "" {
				h.ip = "0.0.0.0"
			}
			out = append(out, h)
		}
	}
	return out
}

// fits returns "" when p may run on ni as far as the node itself goes, else upstream's
// reason for the node failing, which the Unschedulable message counts.
func fits(p *corev1alpha1.Pod, ni *nodeInfo) string {
	n := ni.node
	if !nodeReady(n) {
		return "node(s) were not ready"
	}
	if n.Spec.Unschedulable && !Tolerates(p.Spec.Tolerations, corev1.Taint{Key: corev1.TaintNodeUnschedulable, Effect: corev1.TaintEffectNoSchedule}) {
		return "node(s) were unschedulable"
	}
	if t := UntoleratedTaint(p, n); t != nil {
		return fmt.Sprintf("node(s) had untolerated taint {%s: %s}", t.Key, t.Value)
	}
	if !NodeAffinityMatches(p, n) {
		return "node(s) didn't match Pod's node affinity/selector"
	}
	for _, want := range hostPorts(p) {
		for used := range ni.hostPorts {
			if want.conflicts(used) {
				return "node(s) didn't have free ports for the requested pod ports"
			}
		}
	}
	return insufficient(p, ni)
}

// UntoleratedTaint is n's first NoSchedule or NoExecute taint that p does not tolerate.
func UntoleratedTaint(p *corev1alpha1.Pod, n *corev1alpha1.Node) *corev1.Taint {
	for i, t := range n.Spec.Taints {
		if (t.Effect == corev1.TaintEffectNoSchedule || t.Effect == corev1.TaintEffectNoExecute) && !Tolerates(p.Spec.Tolerations, t) {
			return &n.Spec.Taints[i]
		}
	}
	return nil
}

// NodeAffinityMatches reports whether n satisfies p's nodeSelector and required node affinity.
func NodeAffinityMatches(p *corev1alpha1.Pod, n *corev1alpha1.Node) bool {
	return labels.SelectorFromSet(p.Spec.NodeSelector).Matches(labels.Set(n.Labels)) && requiredAffinityMatches(p, n)
}

// insufficient names the first resource the node lacks for p, as "Insufficient cpu".
func insufficient(p *corev1alpha1.Pod, ni *nodeInfo) string {
	alloc := ni.node.Status.Allocatable
	if maxPods, ok := alloc[corev1.ResourcePods]; ok && int64(len(ni.pods))+1 > maxPods.Value() {
		return "Too many pods"
	}
	requests := podRequests(p)
	for _, name := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory, corev1.ResourceEphemeralStorage} {
		want, ok := requests[name]
		if !ok || want.IsZero() {
			continue
		}
		free := alloc[name].DeepCopy()
		used := ni.requested[name]
		free.Sub(used)
		if want.Cmp(free) > 0 {
			return "Insufficient " + string(name)
		}
	}
	return ""
}

func nodeReady(n *corev1alpha1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// Tolerates reports whether any toleration tolerates the taint: an empty effect covers
// every effect, an empty key with Exists every key, Exists any value, and Equal (the
// default operator) only the same value.
func Tolerates(tolerations []corev1.Toleration, taint corev1.Taint) bool {
	for _, t := range tolerations {
		if t.Effect != "" && t.Effect != taint.Effect {
			continue
		}
		if t.Key != "" && t.Key != taint.Key {
			continue
		}
		switch t.Operator {
		case corev1.TolerationOpExists:
			return true
		case corev1.TolerationOpEqual, "":
			if t.Key != "" && t.Value == taint.Value {
				return true
			}
		}
	}
	return false
}

// requiredAffinityMatches reports whether n satisfies p's required node affinity: any one
// of its terms, each term all of its expressions.
func requiredAffinityMatches(p *corev1alpha1.Pod, n *corev1alpha1.Node) bool {
	a := p.Spec.Affinity
	if a == nil || a.NodeAffinity == nil || a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution == nil {
		return true
	}
	for _, term := range a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms {
		if termMatches(term, n) {
			return true
		}
	}
	return false
}

// termMatches reports whether a node selector term matches n. An empty term matches
// nothing, as upstream's.
func termMatches(term corev1.NodeSelectorTerm, n *corev1alpha1.Node) bool {
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
