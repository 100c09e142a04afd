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

const (
	// monitoringInterval is how often the manager measures and acts, upstream's.
	monitoringInterval = 10 * time.Second
	// immediateGrace is how long a pod evicted on a hard threshold, or over its own
	// ephemeral-storage limits, gets to stop: upstream's 1 s. It is also the least any
	// evicted pod gets, as upstream's pod workers raise a grace period below 1 s to it.
	immediateGrace = time.Second
)

// Pods are the node's pods as eviction sees them.
type Pods interface {
	// Active are the pods the node runs that are neither finished nor being deleted.
	Active() []*corev1alpha1.Pod
	// Evict stops pod with at most grace for its containers and reports it Failed,
	// reason Evicted, with message, recording the pod's Evicted Warning event; false when
	// the pod is gone or was evicted already.
	Evict(pod *corev1alpha1.Pod, message string, grace time.Duration) bool
}

// Images is the node's image garbage collector (imagegc.Collector), which the manager
// asks to prune under disk pressure before it evicts a pod.
type Images interface {
	// DeleteUnusedImages deletes the images no container, running or not, uses, but for
	// pinned ones and those younger than the minimum age.
	DeleteUnusedImages(ctx context.Context) error
}

// Config is what a Manager is made of.
type Config struct {
	// Thresholds are the hard and soft thresholds (ParseThresholds, Combine).
	Thresholds []Threshold
	// TransitionPeriod is how long a pressure condition holds after its threshold was
	// last crossed (--eviction-pressure-transition-period).
	TransitionPeriod time.Duration
	// MaxPodGracePeriod is the most grace a pod evicted on a soft threshold gets
	// (--eviction-max-pod-grace-period); it gets less when its own is shorter.
	MaxPodGracePeriod time.Duration
	Signals           Measurer
	Usage             UsageMeasurer
	// Images, when set, is pruned under disk pressure before any pod is evicted.
	Images Images
	// DedicatedImageFs says the images are on a filesystem of their own, not on nodefs:
	// then only imagefs pressure prunes them, as upstream.
	DedicatedImageFs bool
	Clock            clock.WithTicker
	Log              logr.Logger
}

// Manager is the node's eviction manager. Make it with NewManager, then Run it; Pressure
// may be called at any time from any goroutine.
type Manager struct {
	cfg Config
	// pressureChanged, when set, is called when a pressure condition changes.
	pressureChanged func()

	mu       sync.Mutex
	pressure Pressure

	// The rest is the state of Run's goroutine between rounds.
	conds conditions
	// counting are the thresholds that drove eviction in the last round, which count
	// until their minimum reclaim is met.
	counting []Threshold
	// since is when each crossed threshold was first crossed.
	since map[key]time.Time
}

// NewManager makes the manager cfg describes.
func NewManager(cfg Config) *Manager {
	return &Manager{cfg: cfg, conds: conditions{transitionPeriod: cfg.TransitionPeriod}}
}

// OnPressureChanged makes f be called whenever a pressure condition changes (the agent's
// StatusChanged). Call it before Run.
func (m *Manager) OnPressureChanged(f func()) { m.pressureChanged = f }

// Pressure implements the agent's PressureSource.
func (m *Manager) Pressure() Pressure {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.pressure
}

// Run measures and acts every monitoringInterval until ctx ends.
func (m *Manager) Run(ctx context.Context, pods Pods) {
	ticker := m.cfg.Clock.NewTicker(monitoringInterval)
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

// synchronize is one round, as upstream's: it measures the signals; finds the
// thresholds crossed, and those that counted last round whose minimum reclaim is not met
// yet; updates the pressure conditions from them; evicts pods over their own
// ephemeral-storage limits; and else, while a threshold has been crossed for its grace
// period, reclaims what the node can without a pod (unused images, for disk) and, when
// that is not enough, evicts the one pod that ranks first. It returns the pod it
// evicted, if any.
func (m *Manager) synchronize(ctx context.Context, pods Pods) *corev1alpha1.Pod {
	obs, err := m.cfg.Signals.Measure(ctx)
	if err != nil {
		m.cfg.Log.Error(err, "Measuring the node's eviction signals")
		return nil
	}
	now := m.cfg.Clock.Now()
	crossed := merge(met(m.cfg.Thresholds, obs, false), met(m.counting, obs, true))
	m.since = firstObserved(crossed, m.since, now)
	p := m.conds.observe(crossed, now)
	m.counting = pastGracePeriod(crossed, m.since, now)
	m.mu.Lock()
	changed := p != m.pressure
	m.pressure = p
	m.mu.Unlock()
	if changed {
		m.cfg.Log.Info("Node pressure changed", "memoryPressure", p.Memory, "diskPressure", p.Disk, "pidPressure", p.PID)
		if m.pressureChanged != nil {
			m.pressureChanged()
		}
	}
	active := pods.Active()
	usage, err := m.cfg.Usage.Usage(ctx, active)
	if err != nil {
		m.cfg.Log.Error(err, "Measuring the pods' usage")
		return nil
	}
	var evicted *corev1alpha1.Pod
	for _, pod := range active {
		if u, ok := usage[pod.UID]; ok && !critical(pod) {
			if msg := localStorageViolation(pod, u); msg != "" && m.evict(pods, pod, msg, immediateGrace) {
				evicted = pod
			}
		}
	}
	if evicted != nil || len(m.counting) == 0 {
		return evicted
	}
	driving := append([]Threshold(nil), m.counting...)
	sort.SliceStable(driving, func(i, j int) bool { return signalOrder(driving[i].Signal) < signalOrder(driving[j].Signal) })
	t := driving[0]
	if m.reclaimNodeLevel(ctx, t) {
		return nil
	}
	res := signals[t.Signal].resource
	candidates := make([]*corev1alpha1.Pod, 0, len(active))
	for _, pod := range active {
		if !critical(pod) {
			candidates = append(candidates, pod)
		}
	}
	rank(candidates, usage, res)
	for _, pod := range candidates {
		if m.evict(pods, pod, nodeLowMessage(pod, usage[pod.UID], t, obs[t.Signal]), m.grace(pod, t)) {
			return pod
		}
	}
	m.cfg.Log.Info("Eviction threshold crossed, but no pod to evict", "threshold", t.String())
	return nil
}

// grace is what a pod evicted for t gets, as upstream: immediateGrace for a hard
// threshold, else MaxPodGracePeriod or the pod's own terminationGracePeriodSeconds when
// shorter, and never less than immediateGrace.
func (m *Manager) grace(pod *corev1alpha1.Pod, t Threshold) time.Duration {
	if t.hard() {
		return immediateGrace
	}
	g := m.cfg.MaxPodGracePeriod
	if s := pod.Spec.TerminationGracePeriodSeconds; s != nil {
		g = min(g, time.Duration(*s)*time.Second)
	}
	return max(g, immediateGrace)
}

func (m *Manager) evict(pods Pods, pod *corev1alpha1.Pod, msg string, grace time.Duration) bool {
	if !pods.Evict(pod, msg, grace) {
		return false
	}
	m.cfg.Log.Info("Evicted pod", "pod", pod.Namespace+"/"+pod.Name, "message", msg, "gracePeriod", grace)
	return true
}
