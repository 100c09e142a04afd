package eviction

import (
	"context"
	"sort"
	"sync"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/utils/clock"

	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
)

// monitoringInterval is how often the manager measures and acts, upstream's.
const monitoringInterval = 10 * time.Second

// Pods are the node's pods as eviction sees them.
type Pods interface {
	// Active are the pods the node runs that are neither finished nor being deleted.
	Active() []*corev1alpha1.Pod
	// Evict stops pod and reports it Failed, reason Evicted, with message, recording the
	// pod's Evicted Warning event; false when the pod is gone or was evicted already.
	Evict(pod *corev1alpha1.Pod, message string) bool
}

// Manager is the node's eviction manager. Set its fields, then Run it; Pressure may be
// called at any time from any goroutine.
type Manager struct {
	Thresholds []Threshold
	// TransitionPeriod is how long a pressure condition holds after its threshold was
	// last crossed (--eviction-pressure-transition-period).
	TransitionPeriod time.Duration
	Signals          Measurer
	Usage            UsageMeasurer
	Clock            clock.WithTicker
	Log              logr.Logger
	// PressureChanged, when set, is called when a pressure condition changes (the
	// agent's StatusChanged).
	PressureChanged func()

	mu       sync.Mutex
	pressure Pressure
	conds    conditions
}

// Pressure implements the agent's PressureSource.
func (m *Manager) Pressure() Pressure {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.pressure
}

// Run measures and acts every monitoringInterval until ctx ends.
func (m *Manager) Run(ctx context.Context, pods Pods) {
	ticker := m.Clock.NewTicker(monitoringInterval)
	defer ticker.Stop()
	for {
		m.synchronize(ctx, pods)
		select {
		case <-ctx.Done():
			return
		case <-ticker.C():
		}
	}
}

// synchronize is one round: it measures the signals, updates the pressure conditions,
// evicts pods over their own ephemeral-storage limits, and else, while a threshold is
// crossed, evicts the one pod that ranks first. It returns the pod it evicted, if any.
func (m *Manager) synchronize(ctx context.Context, pods Pods) *corev1alpha1.Pod {
	obs, err := m.Signals.Measure(ctx)
	if err != nil {
		m.Log.Error(err, "Measuring the node's eviction signals")
		return nil
	}
	crossed := met(m.Thresholds, obs)
	m.mu.Lock()
	m.conds.transitionPeriod = m.TransitionPeriod
	p := m.conds.observe(crossed, m.Clock.Now())
	changed := p != m.pressure
	m.pressure = p
	m.mu.Unlock()
	if changed {
		m.Log.Info("Node pressure changed", "memoryPressure", p.Memory, "diskPressure", p.Disk, "pidPressure", p.PID)
		if m.PressureChanged != nil {
			m.PressureChanged()
		}
	}
	active := pods.Active()
	usage, err := m.Usage.Usage(ctx, active)
	if err != nil {
		m.Log.Error(err, "Measuring the pods' usage")
		return nil
	}
	var evicted *corev1alpha1.Pod
	for _, pod := range active {
		if u, ok := usage[pod.UID]; ok && !critical(pod) {
			if msg := localStorageViolation(pod, u); msg != "" && m.evict(pods, pod, msg) {
				evicted = pod
			}
		}
	}
	if evicted != nil || len(crossed) == 0 {
		return evicted
	}
	sort.SliceStable(crossed, func(i, j int) bool { return signalOrder(crossed[i].Signal) < signalOrder(crossed[j].Signal) })
	t := crossed[0]
	res := signals[t.Signal].resource
	candidates := make([]*corev1alpha1.Pod, 0, len(active))
	for _, pod := range active {
		if !critical(pod) {
			candidates = append(candidates, pod)
		}
	}
	rank(candidates, usage, res)
	for _, pod := range candidates {
		if m.evict(pods, pod, nodeLowMessage(pod, usage[pod.UID], t, obs[t.Signal])) {
			return pod
		}
	}
	m.Log.Info("Eviction threshold crossed, but no pod to evict", "threshold", t.String())
	return nil
}

func (m *Manager) evict(pods Pods, pod *corev1alpha1.Pod, msg string) bool {
	if !pods.Evict(pod, msg) {
		return false
	}
	m.Log.Info("Evicted pod", "pod", pod.Namespace+"/"+pod.Name, "message", msg)
	return true
}
