package scheduler

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
)

// nodeInfo is a node with the pods counted against it and what they take. node is nil
// while pods name a node the informer has not shown (or no longer shows); such an entry
// is never a candidate.
type nodeInfo struct {
	node      *corev1alpha1.Node
	pods      map[types.UID]*corev1alpha1.Pod
	requested corev1.ResourceList
	hostPorts map[hostPort]int
	// nonZeroMilliCPU and nonZeroMemory sum the pods' requests as scoring sees them: a
	// container that requests none counts as upstream's 100m cpu and 200Mi memory, so that
	// pods without requests still spread.
	nonZeroMilliCPU, nonZeroMemory int64
	// withAffinity counts the node's pods that state pod (anti-)affinity terms.
	withAffinity int
	// owners counts the node's pods by controller UID, for spreading replicas.
	owners map[string]int
}

func newNodeInfo(n *corev1alpha1.Node) *nodeInfo {
	return &nodeInfo{node: n, pods: map[types.UID]*corev1alpha1.Pod{}, requested: corev1.ResourceList{},
		hostPorts: map[hostPort]int{}, owners: map[string]int{}}
}

// add counts p against the node, replacing an earlier version of p.
func (ni *nodeInfo) add(p *corev1alpha1.Pod) {
	ni.remove(p.UID)
	ni.pods[p.UID] = p
	ni.account(p, 1)
}

// remove stops counting the pod with uid, if it is counted.
func (ni *nodeInfo) remove(uid types.UID) {
	if p, ok := ni.pods[uid]; ok {
		delete(ni.pods, uid)
		ni.account(p, -1)
	}
}

// account adds (sign 1) or subtracts (sign -1) what p takes.
func (ni *nodeInfo) account(p *corev1alpha1.Pod, sign int) {
	for name, q := range podRequests(p) {
		cur := ni.requested[name]
		if sign > 0 {
			cur.Add(q)
		} else {
			cur.Sub(q)
		}
		ni.requested[name] = cur
	}
	cpu, mem := nonZeroRequests(p)
	ni.nonZeroMilliCPU += int64(sign) * cpu
	ni.nonZeroMemory += int64(sign) * mem
	for _, port := range hostPorts(p) {
		ni.hostPorts[port] += sign
		if ni.hostPorts[port] == 0 {
			delete(ni.hostPorts, port)
		}
	}
	if hasPodAffinity(p) {
		ni.withAffinity += sign
	}
	if owner := ownerUID(p); owner != "" {
		ni.owners[owner] += sign
		if ni.owners[owner] == 0 {
			delete(ni.owners, owner)
		}
	}
}

// podRequests sums the requests of a pod's containers, taking the largest init container
// when it asks for more, as upstream computes a pod's effective request.
func podRequests(p *corev1alpha1.Pod) corev1.ResourceList {
	out := corev1.ResourceList{}
	for _, c := range p.Spec.Containers {
		for name, q := range c.Resources.Requests {
			cur := out[name]
			cur.Add(q)
			out[name] = cur
		}
	}
	for _, c := range p.Spec.InitContainers {
		for name, q := range c.Resources.Requests {
			if cur, ok := out[name]; !ok || q.Cmp(cur) > 0 {
				out[name] = q.DeepCopy()
			}
		}
	}
	return out
}

// The requests scoring assumes for a container that states none, as upstream's.
const (
	defaultMilliCPURequest = 100
	defaultMemoryRequest   = 200 << 20
)

// nonZeroRequests sums a pod's containers' cpu (milli) and memory requests, counting the
// defaults for a container that states none.
func nonZeroRequests(p *corev1alpha1.Pod) (milliCPU, memory int64) {
	for _, c := range p.Spec.Containers {
		if q, ok := c.Resources.Requests[corev1.ResourceCPU]; ok {
			milliCPU += q.MilliValue()
		} else {
			milliCPU += defaultMilliCPURequest
		}
		if q, ok := c.Resources.Requests[corev1.ResourceMemory]; ok {
			memory += q.Value()
		} else {
			memory += defaultMemoryRequest
		}
	}
	return milliCPU, memory
}
