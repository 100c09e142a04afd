package stats

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	clocktesting "k8s.io/utils/clock/testing"
)

func TestFlatKeyed(t *testing.T) {
	cases := []struct {
		name, content, key string
		want               uint64
		wantErr            bool
	}{
		{"v2 cpu.stat", "usage_usec 1500\nuser_usec 1000\nsystem_usec 500\n", "usage_usec", 1500, false},
		{"v1 memory.stat hierarchical key, not the local one", "inactive_file 4096\ntotal_inactive_file 8192\n", "total_inactive_file", 8192, false},
		{"v2 memory.stat", "anon 100\nfile 200\ninactive_file 50\n", "inactive_file", 50, false},
		{"meminfo key with colon and unit", "MemTotal:       16318480 kB\nMemFree:         1024 kB\n", "MemFree:", 1024, false},
		{"a key that is a prefix of another is not it", "usage_usec_extra 9\n", "usage_usec", 0, true},
		{"missing", "user_usec 1\n", "usage_usec", 0, true},
		{"not a number", "usage_usec lots\n", "usage_usec", 0, true},
		{"negative", "usage_usec -1\n", "usage_usec", 0, true},
	}
	for _, tc := range cases {
		got, err := flatKeyed(tc.content, tc.key)
		if got != tc.want || (err != nil) != tc.wantErr {
			t.Errorf("%s: flatKeyed(%q) = %d, %v; want %d, error %t", tc.name, tc.key, got, err, tc.want, tc.wantErr)
		}
	}
}

func TestMeminfoWorkingSet(t *testing.T) {
	cases := []struct {
		name, content string
		want          uint64
		wantErr       bool
	}{
		{"total 100 KiB − free 30 − inactive file 20 = 50 KiB", "MemTotal: 100 kB\nMemFree: 30 kB\nMemAvailable: 60 kB\nInactive(file): 20 kB\n", 50 * 1024, false},
		{"more reclaimable than used floors at 0", "MemTotal: 100 kB\nMemFree: 90 kB\nInactive(file): 20 kB\n", 0, false},
		{"no Inactive(file)", "MemTotal: 100 kB\nMemFree: 30 kB\n", 0, true},
	}
	for _, tc := range cases {
		got, err := meminfoWorkingSet(tc.content)
		if got != tc.want || (err != nil) != tc.wantErr {
			t.Errorf("%s: got %d, %v; want %d, error %t", tc.name, got, err, tc.want, tc.wantErr)
		}
	}
}

// write lays out files (path → content) under root.
func write(t *testing.T, root string, files map[string]string) {
	t.Helper()
	for path, content := range files {
		full := filepath.Join(root, path)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestReadCgroupV1(t *testing.T) {
	root := t.TempDir()
	write(t, root, map[string]string{
		"unified/cgroup.controllers":                  "", // systemd's hybrid layout is still v1
		"cpuacct/kybern-n1/abc/cpuacct.usage":         "2500000000\n",
		"memory/kybern-n1/abc/memory.usage_in_bytes":  "10485760\n",
		"memory/kybern-n1/abc/memory.stat":            "inactive_file 1\ntotal_inactive_file 2097152\n",
		"cpuacct/kybern-n1/idle/cpuacct.usage":        "0\n",
		"memory/kybern-n1/idle/memory.usage_in_bytes": "4096\n",
		"memory/kybern-n1/idle/memory.stat":           "total_inactive_file 8192\n",
	})
	c := Cgroups{Root: root}
	got, err := c.Read("/kybern-n1/abc")
	if want := (Usage{CPUNanoseconds: 2_500_000_000, MemoryWorkingSetBytes: 8 << 20}); err != nil || got != want {
		t.Errorf("Read = %+v, %v; want %+v", got, err, want)
	}
	if got, err := c.Read("kybern-n1/idle"); err != nil || got.MemoryWorkingSetBytes != 0 {
		t.Errorf("a cgroup with more inactive file pages than usage: %+v, %v; want a working set of 0", got, err)
	}
	if _, err := c.Read("/kybern-n1/exited"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a cgroup that is gone: %v, want fs.ErrNotExist", err)
	}
}

func TestReadCgroupV2(t *testing.T) {
	root := t.TempDir()
	write(t, root, map[string]string{
		"cgroup.controllers":              "cpu memory\n",
		"kybern-n1/abc/cpu.stat":          "usage_usec 1500000\nuser_usec 1000000\nsystem_usec 500000\n",
		"kybern-n1/abc/memory.current":    "10485760\n",
		"kybern-n1/abc/memory.stat":       "anon 8388608\nfile 2097152\ninactive_file 1048576\n",
		"etc/cpu.stat":                    "usage_usec 1\n",
		"kybern-n1/broken/cpu.stat":       "user_usec 1\n",
		"kybern-n1/broken/memory.stat":    "inactive_file 0\n",
		"kybern-n1/broken/memory.current": "0\n",
	})
	c := Cgroups{Root: root}
	got, err := c.Read("/kybern-n1/abc")
	if want := (Usage{CPUNanoseconds: 1_500_000_000, MemoryWorkingSetBytes: 9 << 20}); err != nil || got != want {
		t.Errorf("Read = %+v, %v; want %+v", got, err, want)
	}
	// "../../etc" stays beneath the root: it is the root's etc, not the host's.
	if _, err := c.Read("../../etc"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Read(../../etc) = %v, want the root's own etc, which has no memory.current", err)
	}
	if _, err := c.Read("/kybern-n1/broken"); err == nil {
		t.Error("a cpu.stat without usage_usec read without error")
	}
}

func TestHost(t *testing.T) {
	at := time.Unix(1_000_000, 0)
	clk := clocktesting.NewFakePassiveClock(at)
	v1 := t.TempDir()
	write(t, v1, map[string]string{
		"cpuacct/cpuacct.usage":        "7000000000\n",
		"memory/memory.usage_in_bytes": "3145728\n",
		"memory/memory.stat":           "total_inactive_file 1048576\n",
	})
	v2 := t.TempDir()
	write(t, v2, map[string]string{
		"cgroup.controllers": "cpu memory\n",
		"cpu.stat":           "usage_usec 7000000\n",
		"meminfo":            "MemTotal: 4096 kB\nMemFree: 1024 kB\nInactive(file): 1024 kB\n",
	})
	for name, h := range map[string]*Host{
		"v1": {Cgroups: Cgroups{Root: v1}, Clock: clk},
		"v2": {Cgroups: Cgroups{Root: v2}, Meminfo: filepath.Join(v2, "meminfo"), Clock: clk},
	} {
		got, err := h.NodeStats(context.Background())
		if want := (NodeStats{Timestamp: at, CPUUsageNanoseconds: 7_000_000_000, MemoryWorkingSetBytes: 2 << 20}); err != nil || got != want {
			t.Errorf("%s: NodeStats = %+v, %v; want %+v", name, got, err, want)
		}
	}
}
