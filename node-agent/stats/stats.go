// Package stats measures a node's own CPU and memory use, what the node agent's
// /metrics/resource and /stats/summary report beside its containers'. Source is the seam
// the API server takes; Host measures a real node from its root cgroup (this file), and
// Cgroups reads any cgroup, cgroup v1 or v2, which the containerd runtime also uses for
// its containers (cgroup.go). The simulated runtime is a Source of its own.
package stats

import (
	"context"
	"fmt"
	"os"
	"time"

	"k8s.io/utils/clock"
)

// NodeStats is one measurement of a node's usage.
type NodeStats struct {
	// Timestamp is when the usage was measured.
	Timestamp time.Time
	// CPUUsageNanoseconds is the CPU time the node has used, summed over its cores; it only
	// grows, so that two measurements give a rate.
	CPUUsageNanoseconds uint64
	// MemoryWorkingSetBytes is the memory in use less what the kernel may reclaim at once
	// (inactive file pages), the kubelet's working set.
	MemoryWorkingSetBytes uint64
}

// Source measures one node. Safe for concurrent use.
type Source interface {
	NodeStats(ctx context.Context) (NodeStats, error)
}

// Host is a real node's Source: its root cgroup, as the kubelet reads it through cAdvisor.
// CPU is the root's cumulative usage, cpuacct.usage on cgroup v1 and cpu.stat's
// usage_usec on v2. Memory on v1 is the root memory cgroup's usage_in_bytes less
// total_inactive_file; the v2 root has no memory.current, so there it is Meminfo's
// MemTotal − MemFree − Inactive(file), as runc computes the v2 root's usage.
type Host struct {
	Cgroups Cgroups
	// Meminfo is /proc/meminfo, read on cgroup v2 only.
	Meminfo string
	Clock   clock.PassiveClock
}

// NewHost measures this machine.
func NewHost() *Host {
	return &Host{Cgroups: Cgroups{Root: CgroupRoot}, Meminfo: "/proc/meminfo", Clock: clock.RealClock{}}
}

var _ Source = (*Host)(nil)

// NodeStats implements Source.
func (h *Host) NodeStats(context.Context) (NodeStats, error) {
	if !h.Cgroups.unified() {
		u, err := h.Cgroups.Read("/")
		if err != nil {
			return NodeStats{}, err
		}
		return NodeStats{Timestamp: h.Clock.Now(), CPUUsageNanoseconds: u.CPUNanoseconds, MemoryWorkingSetBytes: u.MemoryWorkingSetBytes}, nil
	}
	cpu, err := h.Cgroups.v2CPU("/")
	if err != nil {
		return NodeStats{}, err
	}
	data, err := os.ReadFile(h.Meminfo)
	if err != nil {
		return NodeStats{}, err
	}
	mem, err := meminfoWorkingSet(string(data))
	if err != nil {
		return NodeStats{}, fmt.Errorf("%s: %w", h.Meminfo, err)
	}
	return NodeStats{Timestamp: h.Clock.Now(), CPUUsageNanoseconds: cpu, MemoryWorkingSetBytes: mem}, nil
}

// meminfoWorkingSet is MemTotal − MemFree − Inactive(file) of a /proc/meminfo, in bytes,
// floored at 0. Its values are in KiB: "MemTotal:       16318480 kB".
func meminfoWorkingSet(content string) (uint64, error) {
	var total, free, inactive uint64
	for _, f := range []struct {
		key string
		v   *uint64
	}{{"MemTotal:", &total}, {"MemFree:", &free}, {"Inactive(file):", &inactive}} {
		v, err := flatKeyed(content, f.key)
		if err != nil {
			return 0, err
		}
		*f.v = v * 1024
	}
	return floorSub(floorSub(total, free), inactive), nil
}
