package scheduler

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"

	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
	"github.com/kybern/kybern/controllers/internal/nodepredicates"
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
	if n.Spec.Unschedulable && !nodepredicates.Tolerates(p.Spec.Tolerations, corev1.Taint{Key: corev1.TaintNodeUnschedulable, Effect: corev1.TaintEffectNoSchedule}) {
		return "node(s) were unschedulable"
	}
	if t := nodepredicates.UntoleratedTaint(p, n); t != nil {
		return fmt.Sprintf("node(s) had untolerated taint {%s: %s}", t.Key, t.Value)
	}
	if !nodepredicates.AffinityMatches(p, n) {
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
