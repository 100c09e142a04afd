package eviction

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// Observation is one signal's measurement: what is available of what there is.
type Observation struct {
	Available, Capacity int64
}

// Observations are the node's signals as measured once.
type Observations map[Signal]Observation

// Measurer measures the node's signals; a fake stands in for the host in tests.
type Measurer interface {
	Measure(ctx context.Context) (Observations, error)
}

// Host measures the machine the agent runs on.
//
// memory.available is MemTotal less the working set, which is what the kernel cannot
// reclaim at once: (MemTotal − MemFree) − Inactive(file), all from /proc/meminfo. That
// is upstream's computation (capacity − the root cgroup's usage less its inactive file
// pages) with the host's counters, which exist under cgroup v1 and v2 alike: the root of
// cgroup v2 has no memory.current.
//
// nodefs is the filesystem of NodeFs (the pods' directory), imagefs that of ImageFs
// (containerd's root); pid.available is /proc/sys/kernel/pid_max less the processes the
// kernel counts (sysinfo(2)).
type Host struct {
	NodeFs, ImageFs string
}

// Measure implements Measurer.
func (h Host) Measure(context.Context) (Observations, error) {
	obs := Observations{}
	mem, err := memoryAvailable()
	if err != nil {
		return nil, err
	}
	obs[MemoryAvailable] = mem
	for _, fs := range []struct {
		dir              string
		available, files Signal
	}{{h.NodeFs, NodeFsAvailable, NodeFsInodesFree}, {h.ImageFs, ImageFsAvailable, ImageFsInodesFree}} {
		var st syscall.Statfs_t
		if err := syscall.Statfs(fs.dir, &st); err != nil {
			return nil, fmt.Errorf("measuring the filesystem of %s: %w", fs.dir, err)
		}
		obs[fs.available] = Observation{Available: int64(st.Bavail) * st.Bsize, Capacity: int64(st.Blocks) * st.Bsize}
		obs[fs.files] = Observation{Available: int64(st.Ffree), Capacity: int64(st.Files)}
	}
	pids, err := pidAvailable()
	if err != nil {
		return nil, err
	}
	obs[PIDAvailable] = pids
	return obs, nil
}

func memoryAvailable() (Observation, error) {
	data, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return Observation{}, err
	}
	fields := map[string]int64{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		name, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) == 0 {
			continue
		}
		if kb, err := strconv.ParseInt(f[0], 10, 64); err == nil {
			fields[name] = kb * 1024
		}
	}
	total, free, inactive := fields["MemTotal"], fields["MemFree"], fields["Inactive(file)"]
	if total == 0 {
		return Observation{}, fmt.Errorf("/proc/meminfo has no MemTotal")
	}
	workingSet := max(total-free-inactive, 0)
	return Observation{Available: total - workingSet, Capacity: total}, nil
}

func pidAvailable() (Observation, error) {
	data, err := os.ReadFile("/proc/sys/kernel/pid_max")
	if err != nil {
		return Observation{}, err
	}
	limit, err := strconv.ParseInt(strings.TrimSpace(string(data)), 10, 64)
	if err != nil {
		return Observation{}, fmt.Errorf("/proc/sys/kernel/pid_max: %w", err)
	}
	var info syscall.Sysinfo_t
	if err := syscall.Sysinfo(&info); err != nil {
		return Observation{}, fmt.Errorf("sysinfo: %w", err)
	}
	return Observation{Available: limit - int64(info.Procs), Capacity: limit}, nil
}
