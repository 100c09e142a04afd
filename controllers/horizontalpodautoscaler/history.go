package horizontalpodautoscaler

import (
	"slices"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"

	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
)

// recommendation is a replica count the metrics asked for, before stabilization.
type recommendation struct {
	replicas int32
	at       time.Time
}

// scaleEvent is one rescale: how many replicas it added or removed.
type scaleEvent struct {
	change int32
	at     time.Time
	// outdated events are older than every policy's period; the next event reuses the slot.
	outdated bool
}

// memory is what the controller remembers of one autoscaler between syncs, as upstream's
// does, in memory only: a restarted controller starts afresh.
type memory struct {
	recommendations      []recommendation
	scaleUps, scaleDowns []scaleEvent
}

// history holds a memory per autoscaler and the label selector each last used. A memory is
// touched only by the reconcile of its own autoscaler, which controller-runtime never runs
// twice at once; selectors are read across autoscalers, under mu.
type history struct {
	mu        sync.Mutex
	memories  map[types.NamespacedName]*memory
	selectors map[types.NamespacedName]labels.Selector
}

func newHistory() *history {
	return &history{memories: map[types.NamespacedName]*memory{}, selectors: map[types.NamespacedName]labels.Selector{}}
}

// of is key's memory, created on first use with current as its first recommendation, so
// that a scale down right after the controller starts is stabilized too.
func (h *history) of(key types.NamespacedName, current int32, now time.Time) *memory {
	h.mu.Lock()
	defer h.mu.Unlock()
	m, ok := h.memories[key]
	if !ok {
		m = &memory{recommendations: []recommendation{{replicas: current, at: now}}}
		h.memories[key] = m
	}
	return m
}

// forget drops what is known of a deleted autoscaler.
func (h *history) forget(key types.NamespacedName) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.memories, key)
	delete(h.selectors, key)
}

// claim records that key selects pods with selector, and returns the other autoscalers of
// its namespace whose selectors match one of pods, sorted: two autoscalers scaling the same
// pods would fight.
func (h *history) claim(key types.NamespacedName, selector labels.Selector, pods []*corev1alpha1.Pod) []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.selectors[key] = selector
	var others []string
	for other, sel := range h.selectors {
		if other == key || other.Namespace != key.Namespace {
			continue
		}
		if slices.ContainsFunc(pods, func(p *corev1alpha1.Pod) bool { return sel.Matches(labels.Set(p.Labels)) }) {
			others = append(others, other.Name)
		}
	}
	slices.Sort(others)
	return others
}
