package simulated

import (
	"context"
	"path/filepath"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/kybern/kybern/node-agent/runtime"
	"github.com/kybern/kybern/node-agent/stats"
)

// workingSet is the memory every running simulated container uses.
const workingSet = 1 << 20

// maxBurnMilli bounds a burn's rate: 1024 cores, more than any node has, so that its
// cumulative nanoseconds fit a uint64 for half a year (1024 × 1e9 ns/s × 1.8e7 s).
const maxBurnMilli = 1024 * 1000

// burn is the CPU a simulated command declares it uses.
type burn struct {
	// milli is the rate in millicores while it burns; 0 for a command that uses none.
	milli int64
	// forever burns until the container exits; else it burns for duration, then idles.
	forever  bool
	duration time.Duration
}

// burnPlan reads the usage model from a container's command line (command then args):
//
//	burn <cpu> [<duration>]
//
// uses cpu cores (a quantity: "300m", "1.5", "2") from the moment the container runs,
// for duration (a Go duration: "90s", "5m") or, without one, until it exits; then none.
// The container itself runs until stopped, as any command plan does not know. Every
// other command, and a burn whose cpu is not a quantity in (0, 1024] or whose duration is
// not a positive Go duration, uses no CPU. Every running container's memory working set
// is 1Mi.
func burnPlan(argv []string) burn {
	if len(argv) < 2 || len(argv) > 3 || filepath.Base(argv[0]) != "burn" {
		return burn{}
	}
	cpu, err := resource.ParseQuantity(argv[1])
	if err != nil || cpu.Sign() <= 0 || cpu.MilliValue() > maxBurnMilli {
		return burn{}
	}
	if len(argv) == 2 {
		return burn{milli: cpu.MilliValue(), forever: true}
	}
	d, err := time.ParseDuration(argv[2])
	if err != nil || d <= 0 {
		return burn{}
	}
	return burn{milli: cpu.MilliValue(), duration: d}
}

// used is the CPU time b has burnt, in nanoseconds, for a container running from start
// until until: 300m for 90s is 0.3 × 90 s = 27e9 ns. Seconds and their remainder are
// multiplied apart so that no product overflows.
func (b burn) used(start, until time.Time) uint64 {
	busy := until.Sub(start)
	if b.milli == 0 || busy <= 0 {
		return 0
	}
	if !b.forever && busy > b.duration {
		busy = b.duration
	}
	secs, rest := uint64(busy/time.Second), uint64(busy%time.Second)
	milli := uint64(b.milli)
	return secs*milli*uint64(time.Millisecond) + rest*milli/1000
}

// cpuUsed is the CPU time c has used by now, or by its exit. Callers hold mu.
func (r *Runtime) cpuUsed(c *container) uint64 {
	r.advance(c)
	until := r.clock.Now()
	switch c.State {
	case runtime.StateCreated:
		return 0
	case runtime.StateExited:
		until = c.FinishedAt
	}
	return c.burn.used(c.runningAt, until)
}

// ContainerStats implements runtime.Runtime with the usage each command declares (see
// burnPlan), measured at the clock's now.
func (r *Runtime) ContainerStats(context.Context) ([]runtime.ContainerStats, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.clock.Now()
	var out []runtime.ContainerStats
	for _, c := range r.containers {
		cpu := r.cpuUsed(c)
		if c.State != runtime.StateRunning {
			continue
		}
		out = append(out, runtime.ContainerStats{ID: c.ID, Pod: runtime.PodRef{UID: c.Pod.UID, Namespace: c.Pod.Namespace, Name: c.Pod.Name},
			Name: c.Name, StartedAt: c.StartedAt, Timestamp: now, CPUUsageNanoseconds: cpu, MemoryWorkingSetBytes: workingSet})
	}
	return out, nil
}

var _ stats.Source = (*Runtime)(nil)

// NodeStats implements stats.Source: a simulated node uses what its containers do. Its
// CPU time counts every container it ran, removed ones too, so that it never decreases;
// its working set is that of its running containers.
func (r *Runtime) NodeStats(context.Context) (stats.NodeStats, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := stats.NodeStats{Timestamp: r.clock.Now(), CPUUsageNanoseconds: r.removedCPU}
	for _, c := range r.containers {
		n.CPUUsageNanoseconds += r.cpuUsed(c)
		if c.State == runtime.StateRunning {
			n.MemoryWorkingSetBytes += workingSet
		}
	}
	return n, nil
}
