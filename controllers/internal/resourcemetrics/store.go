// Package resourcemetrics holds the pod and node usage the metrics server collects from the
// node agents, for the metrics API and the autoscaler in the same manager.
package resourcemetrics

import (
	"maps"
	"slices"
	"sync"

	"k8s.io/apimachinery/pkg/types"
	metricsv1beta1 "k8s.io/metrics/pkg/apis/metrics/v1beta1"
)

// Reader is the latest usage known, as metrics.k8s.io serves it: CPU as a rate over the
// window ending at the timestamp, memory as the working set at that timestamp.
type Reader interface {
	// Pod is the usage of pod, false when the metrics server has no usage of it yet (a pod
	// needs two samples for a CPU rate).
	Pod(pod types.NamespacedName) (metricsv1beta1.PodMetrics, bool)
	// Node is the usage of the node called name.
	Node(name string) (metricsv1beta1.NodeMetrics, bool)
	// Pods lists the usage of every pod known in namespace ("" for all), in no order.
	Pods(namespace string) []metricsv1beta1.PodMetrics
	// Nodes lists the usage of every node known, in no order.
	Nodes() []metricsv1beta1.NodeMetrics
}

// Store is a Reader that the metrics server fills one node at a time. Safe for concurrent
// use.
type Store struct {
	mu    sync.RWMutex
	nodes map[string]metricsv1beta1.NodeMetrics
	// pods holds each node's pods as its last scrape reported them.
	pods map[string]map[types.NamespacedName]metricsv1beta1.PodMetrics
}

var _ Reader = (*Store)(nil)

// NewStore is an empty Store.
func NewStore() *Store {
	return &Store{nodes: map[string]metricsv1beta1.NodeMetrics{}, pods: map[string]map[types.NamespacedName]metricsv1beta1.PodMetrics{}}
}

// SetNode replaces what is known of node: its own usage (nil when unknown) and that of its
// pods; pods no longer listed are forgotten.
func (s *Store) SetNode(node string, usage *metricsv1beta1.NodeMetrics, pods []metricsv1beta1.PodMetrics) {
	byKey := make(map[types.NamespacedName]metricsv1beta1.PodMetrics, len(pods))
	for _, p := range pods {
		byKey[types.NamespacedName{Namespace: p.Namespace, Name: p.Name}] = p
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if usage == nil {
		delete(s.nodes, node)
	} else {
		s.nodes[node] = *usage
	}
	s.pods[node] = byKey
}

// ForgetNode drops node and its pods, as when the Node is deleted.
func (s *Store) ForgetNode(node string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.nodes, node)
	delete(s.pods, node)
}

// KnownNodes are the nodes the store holds anything of.
func (s *Store) KnownNodes() []string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return slices.Collect(maps.Keys(s.pods))
}

// Pod implements Reader. A pod that moved nodes (deleted and recreated under the same
// name) may briefly be held for two; the newest sample wins.
func (s *Store) Pod(pod types.NamespacedName) (metricsv1beta1.PodMetrics, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var found metricsv1beta1.PodMetrics
	ok := false
	for _, pods := range s.pods {
		if p, has := pods[pod]; has && (!ok || p.Timestamp.After(found.Timestamp.Time)) {
			found, ok = p, true
		}
	}
	return *found.DeepCopy(), ok
}

// Node implements Reader.
func (s *Store) Node(name string) (metricsv1beta1.NodeMetrics, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	n, ok := s.nodes[name]
	return *n.DeepCopy(), ok
}

// Pods implements Reader.
func (s *Store) Pods(namespace string) []metricsv1beta1.PodMetrics {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []metricsv1beta1.PodMetrics
	for _, pods := range s.pods {
		for key, p := range pods {
			if namespace == "" || key.Namespace == namespace {
				out = append(out, *p.DeepCopy())
			}
		}
	}
	return out
}

// Nodes implements Reader.
func (s *Store) Nodes() []metricsv1beta1.NodeMetrics {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]metricsv1beta1.NodeMetrics, 0, len(s.nodes))
	for _, n := range s.nodes {
		out = append(out, *n.DeepCopy())
	}
	return out
}
