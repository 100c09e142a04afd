package podgc

import (
	"cmp"
	"slices"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/sets"

	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
)

// OutOfServiceTaint is upstream's taint that declares a node shut down for good.
const OutOfServiceTaint = "node.kubernetes.io/out-of-service"

// Upstream's messages for the DisruptionTarget condition of the pods it collects.
const (
	ReasonDeletionByPodGC = "DeletionByPodGC"
	messageNodeGone       = "PodGC: node no longer exists"
	messageOutOfService   = "PodGC: node is out-of-service"
)

// action is what one pass does to one pod.
type action struct {
	pod *corev1alpha1.Pod
	// message, when set, makes a pod that has not finished Failed with a DisruptionTarget
	// condition saying why, and removes the node agent's finalizer: no agent will.
	message string
	// deleteIt deletes the pod (again, for one being deleted already).
	deleteIt bool
}

// snapshot is what a pass decides from.
type snapshot struct {
	pods []corev1alpha1.Pod
	// nodes are the Nodes the cache shows, by name.
	nodes map[string]*corev1alpha1.Node
	// gone are the Nodes the apiserver confirmed do not exist.
	gone sets.Set[string]
	// threshold is --terminated-pod-gc-threshold; 0 keeps every terminated pod.
	threshold int
}

// plan lists what to do, in upstream's order: terminated pods beyond the threshold, pods
// of gone nodes, pods being deleted on out-of-service nodes. A pod appears once.
func plan(s snapshot) []action {
	var out []action
	done := sets.New[*corev1alpha1.Pod]()
	add := func(a action) {
		if !done.Has(a.pod) {
			done.Insert(a.pod)
			out = append(out, a)
		}
	}
	var terminated []*corev1alpha1.Pod
	for i := range s.pods {
		if p := &s.pods[i]; finished(p) && p.DeletionTimestamp == nil {
			terminated = append(terminated, p)
		}
	}
	if excess := len(terminated) - s.threshold; s.threshold > 0 && excess > 0 {
		slices.SortFunc(terminated, func(a, b *corev1alpha1.Pod) int {
			if c := a.CreationTimestamp.Compare(b.CreationTimestamp.Time); c != 0 {
				return c
			}
			return cmp.Compare(a.Namespace+"/"+a.Name, b.Namespace+"/"+b.Name)
		})
		for _, p := range terminated[:excess] {
			add(action{pod: p, deleteIt: true})
		}
	}
	for i := range s.pods {
		p := &s.pods[i]
		if p.Spec.NodeName != "" && s.gone.Has(p.Spec.NodeName) {
			add(action{pod: p, message: messageNodeGone, deleteIt: true})
		}
	}
	for i := range s.pods {
		p := &s.pods[i]
		if n := s.nodes[p.Spec.NodeName]; p.DeletionTimestamp != nil && n != nil && outOfService(n) {
			add(action{pod: p, message: messageOutOfService})
		}
	}
	return out
}

func finished(p *corev1alpha1.Pod) bool {
	return p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed
}

// outOfService reports whether n is not Ready and tainted out-of-service, upstream's test.
func outOfService(n *corev1alpha1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue {
			return false
		}
	}
	return slices.ContainsFunc(n.Spec.Taints, func(t corev1.Taint) bool { return t.Key == OutOfServiceTaint })
}
