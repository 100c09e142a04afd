package stats

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// CgroupRoot is where the host mounts its cgroups.
const CgroupRoot = "/sys/fs/cgroup"

// Cgroups reads usage from the cgroup hierarchy mounted at Root: cgroup v2 when Root holds
// cgroup.controllers (the unified hierarchy), else cgroup v1 with a directory per
// controller (Root/cpuacct, Root/memory). A hybrid host, v1 with systemd's v2 mounted at
// Root/unified, reads as v1, as the kubelet reads it.
type Cgroups struct {
	Root string
}

// Usage is one reading of a cgroup.
type Usage struct {
	// CPUNanoseconds is the cgroup's cumulative CPU time over all cores.
	CPUNanoseconds uint64
	// MemoryWorkingSetBytes is its memory usage less its inactive file pages, floored at 0.
	MemoryWorkingSetBytes uint64
}

// Read measures the cgroup at path, relative to the hierarchy as an OCI spec's
// linux.cgroupsPath is. path is hostile input: it is cleaned and kept beneath Root. A
// cgroup that is gone (its container exited) gives an error wrapping fs.ErrNotExist.
//
// cgroup v1: CPU is cpuacct/<path>/cpuacct.usage (ns); memory is
// memory/<path>/memory.usage_in_bytes less memory.stat's total_inactive_file (the
// hierarchical count, which includes child cgroups as the usage does).
// cgroup v2: CPU is <path>/cpu.stat's usage_usec × 1000; memory is memory.current less
// memory.stat's inactive_file.
func (c Cgroups) Read(path string) (Usage, error) {
	rel := filepath.Clean("/" + path)
	var u Usage
	var err error
	if c.unified() {
		if u.CPUNanoseconds, err = c.v2CPU(rel); err != nil {
			return Usage{}, err
		}
		u.MemoryWorkingSetBytes, err = c.workingSet(filepath.Join(c.Root, rel), "memory.current", "inactive_file")
		return u, err
	}
	if u.CPUNanoseconds, err = readUint(filepath.Join(c.Root, "cpuacct", rel, "cpuacct.usage")); err != nil {
		return Usage{}, err
	}
	u.MemoryWorkingSetBytes, err = c.workingSet(filepath.Join(c.Root, "memory", rel), "memory.usage_in_bytes", "total_inactive_file")
	return u, err
}

// unified reports whether Root is a cgroup v2 hierarchy.
func (c Cgroups) unified() bool {
	_, err := os.Stat(filepath.Join(c.Root, "cgroup.controllers"))
	return err == nil
}

// v2CPU is the cumulative CPU time of the v2 cgroup rel, a cleaned absolute path.
func (c Cgroups) v2CPU(rel string) (uint64, error) {
	file := filepath.Join(c.Root, rel, "cpu.stat")
	data, err := os.ReadFile(file)
	if err != nil {
		return 0, err
	}
	usec, err := flatKeyed(string(data), "usage_usec")
	if err != nil {
		return 0, fmt.Errorf("%s: %w", file, err)
	}
	return usec * 1000, nil
}

// workingSet is dir's usage file less the inactive key of its memory.stat, floored at 0.
func (c Cgroups) workingSet(dir, usage, inactive string) (uint64, error) {
	used, err := readUint(filepath.Join(dir, usage))
	if err != nil {
		return 0, err
	}
	file := filepath.Join(dir, "memory.stat")
	data, err := os.ReadFile(file)
	if err != nil {
		return 0, err
	}
	idle, err := flatKeyed(string(data), inactive)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", file, err)
	}
	return floorSub(used, idle), nil
}

// readUint reads a file holding one unsigned number, such as cpuacct.usage.
func readUint(file string) (uint64, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return 0, err
	}
	v, err := strconv.ParseUint(strings.TrimSpace(string(data)), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%s: want one unsigned number: %w", file, err)
	}
	return v, nil
}

// flatKeyed is key's value in a file of "key value" lines, such as memory.stat, cpu.stat
// or /proc/meminfo (whose keys end in a colon and values in a unit, "MemFree: 1024 kB").
func flatKeyed(content, key string) (uint64, error) {
	for _, line := range strings.Split(content, "\n") {
		f := strings.Fields(line)
		if len(f) < 2 || f[0] != key {
			continue
		}
		v, err := strconv.ParseUint(f[1], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%s: %w", key, err)
		}
		return v, nil
	}
	return 0, fmt.Errorf("no %s", key)
}

// floorSub is a − b, or 0 when b is larger: the page counts a working set is computed
// from are read at different instants and may cross.
func floorSub(a, b uint64) uint64 {
	if b > a {
		return 0
	}
	return a - b
}
