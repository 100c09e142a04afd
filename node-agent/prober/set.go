package prober

import (
	"context"
	"fmt"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/clock"

	"github.com/kybern/kybern/node-agent/runtime"
)

// Kind is what a probe decides.
type Kind string

const (
	Liveness  Kind = "Liveness"
	Readiness Kind = "Readiness"
	Startup   Kind = "Startup"
)

// Running is a container instance probes run against.
type Running struct {
	ID        string
	StartedAt time.Time
	Spec      *corev1.Container
}

// Set runs the probes of one pod's containers: one loop per probe of each running
// container instance. A loop waits initialDelaySeconds from the container's start, then
// probes every periodSeconds; liveness and readiness wait until the startup probe, if
// any, has succeeded. Loops end when Sync no longer lists their container, and a liveness
// or startup loop also once it has failed for good: the pod worker then kills the
// container, and its next instance gets new loops. Every change of a result calls notify;
// every failed probe run calls unhealthy, as the kubelet records an Unhealthy event for
// each.
type Set struct {
	target    Target
	clock     clock.WithTicker
	pod       runtime.PodRef
	notify    func()
	unhealthy Unhealthy

	mu      sync.Mutex
	loops   map[string]context.CancelFunc
	results map[string]map[Kind]Result
	reasons map[string]Kill
}

// Unhealthy is told of every failed run of a probe of kind on container c, with the
// probe's output; errored says the runtime could not run it, and the run was not counted.
type Unhealthy func(c *corev1.Container, kind Kind, output string, errored bool)

// Kill is why a container must be killed: its liveness or startup probe failed for good.
type Kill struct {
	Container string
	Kind      Kind
	// Output is the last failed run's.
	Output string
}

// Event is what the kubelet says when it kills the container for the failure.
func (f Kill) Event() string {
	return fmt.Sprintf("Container %s failed %s probe, will be restarted", f.Container, lower(f.Kind))
}

// Message is the killed instance's termination message: the event, with the output.
func (f Kill) Message() string { return f.Event() + ": " + f.Output }

// NewSet returns the probe set of pod; notify is called, from the loops' goroutines,
// whenever a result changes, and unhealthy, when not nil, at every failed run.
func NewSet(target Target, clk clock.WithTicker, pod runtime.PodRef, notify func(), unhealthy Unhealthy) *Set {
	return &Set{target: target, clock: clk, pod: pod, notify: notify, unhealthy: unhealthy,
		loops: map[string]context.CancelFunc{}, results: map[string]map[Kind]Result{}, reasons: map[string]Kill{}}
}

// Sync starts the loops of instances that have none and ends those of instances not
// listed, forgetting their results. ctx bounds every loop.
func (s *Set) Sync(ctx context.Context, running []Running) {
	s.mu.Lock()
	defer s.mu.Unlock()
	keep := map[string]bool{}
	for _, r := range running {
		keep[r.ID] = true
		if _, ok := s.loops[r.ID]; ok || !hasProbes(r.Spec) {
			continue
		}
		loopCtx, cancel := context.WithCancel(ctx)
		s.loops[r.ID] = cancel
		s.results[r.ID] = map[Kind]Result{Liveness: Success, Readiness: Failure, Startup: Unknown}
		for kind, p := range probes(r.Spec) {
			go s.loop(loopCtx, r, kind, p)
		}
	}
	for id, cancel := range s.loops {
		if !keep[id] {
			cancel()
			delete(s.loops, id)
			delete(s.results, id)
			delete(s.reasons, id)
		}
	}
}

// Stop ends every loop.
func (s *Set) Stop() { s.Sync(context.Background(), nil) }

// Started says whether the instance id of c has started: it has no startup probe, or
// that probe succeeded.
func (s *Set) Started(id string, c *corev1.Container) bool {
	if c.StartupProbe == nil {
		return true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.results[id][Startup] == Success
}

// Ready says whether the instance id of c is ready: started, and its readiness probe, if
// any, succeeded.
func (s *Set) Ready(id string, c *corev1.Container) bool {
	if !s.Started(id, c) {
		return false
	}
	if c.ReadinessProbe == nil {
		return true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.results[id][Readiness] == Success
}

// Failed returns, for an instance whose liveness or startup probe failed for good, why it
// must be restarted.
func (s *Set) Failed(id string) (Kill, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	reason, ok := s.reasons[id]
	return reason, ok
}

func hasProbes(c *corev1.Container) bool {
	return c.LivenessProbe != nil || c.ReadinessProbe != nil || c.StartupProbe != nil
}

func probes(c *corev1.Container) map[Kind]*corev1.Probe {
	out := map[Kind]*corev1.Probe{}
	for kind, p := range map[Kind]*corev1.Probe{Liveness: c.LivenessProbe, Readiness: c.ReadinessProbe, Startup: c.StartupProbe} {
		if p != nil {
			out[kind] = p
		}
	}
	return out
}

func (s *Set) loop(ctx context.Context, r Running, kind Kind, p *corev1.Probe) {
	initial := map[Kind]Result{Liveness: Success, Readiness: Failure, Startup: Unknown}[kind]
	th := newThreshold(p.SuccessThreshold, p.FailureThreshold, initial)
	if delay := time.Duration(p.InitialDelaySeconds)*time.Second - s.clock.Since(r.StartedAt); delay > 0 {
		timer := s.clock.NewTimer(delay)
		select {
		case <-ctx.Done():
			timer.Stop()
			return
		case <-timer.C():
		}
	}
	ticker := s.clock.NewTicker(time.Duration(max(p.PeriodSeconds, 1)) * time.Second)
	defer ticker.Stop()
	for {
		if kind == Startup || s.Started(r.ID, r.Spec) {
			ok, message, err := Run(ctx, s.target, s.pod, r.ID, r.Spec, p)
			if ctx.Err() != nil {
				return
			}
			if !ok && s.unhealthy != nil {
				s.unhealthy(r.Spec, kind, message, err != nil)
			}
			if err == nil && th.observe(ok) {
				s.record(r, kind, th.result, message)
			}
			switch {
			case kind == Startup && th.result == Success:
				return
			case kind != Readiness && th.result == Failure:
				return
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-ticker.C():
		}
	}
}

func (s *Set) record(r Running, kind Kind, result Result, message string) {
	s.mu.Lock()
	if _, live := s.loops[r.ID]; !live {
		s.mu.Unlock()
		return
	}
	s.results[r.ID][kind] = result
	if result == Failure && kind != Readiness {
		s.reasons[r.ID] = Kill{Container: r.Spec.Name, Kind: kind, Output: message}
	}
	s.mu.Unlock()
	s.notify()
}

func lower(k Kind) string {
	switch k {
	case Liveness:
		return "liveness"
	case Readiness:
		return "readiness"
	}
	return "startup"
}
