package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"

	containerd "github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/core/snapshots"

	"github.com/kybern/kybern/node-agent/apiservice"
	"github.com/kybern/kybern/node-agent/proxy"
	"github.com/kybern/kybern/test/testenv"
)

// growth says how much a resource may grow between the two samples of a soak run.
type growth int

const (
	// none: the count must be back at its baseline once everything is deleted.
	none growth = iota
	// tolerated: up to tolerance above the baseline (relative, or absolute for small ones).
	tolerated
	// reported: shown, never failed on (a high-water mark, not a count of what is held).
	reported
)

// soakRow is one row of the soak table.
type soakRow struct {
	name  string
	limit growth
	// tolerance, for tolerated rows: the growth allowed is max(abs, rel × baseline).
	abs, rel float64
}

// allowed reports whether from → to is within r's limit.
func (r soakRow) allowed(from, to float64) bool {
	switch r.limit {
	case none:
		return to <= from
	case tolerated:
		return to-from <= max(r.abs, r.rel*from)
	default:
		return true
	}
}

func (r soakRow) rule() string {
	switch r.limit {
	case none:
		return "zero growth"
	case tolerated:
		return fmt.Sprintf("≤ max(%g, %g%%)", r.abs, r.rel*100)
	default:
		return "report only"
	}
}

// soakNode is one agent under soak and what its resources are found by.
type soakNode struct {
	agent *testenv.AgentProcess
	// dir is the agent's state for its node: work/nodes/<node>.
	dir string
}

// sample is one measurement of every resource, in the rows' order.
type sample struct {
	rows   []soakRow
	values []float64
}

func (s *sample) add(r soakRow, v float64) {
	s.rows = append(s.rows, r)
	s.values = append(s.values, v)
}

// measure samples the manager (this process: the manager runs in it, beside the
// benchmark's own client), each agent, its containerd and the host.
func measure(ctx context.Context, nodes []soakNode, logDir string) (sample, error) {
	var s sample
	runtime.GC()
	debug.FreeOSMemory()
	s.add(soakRow{name: "manager goroutines (in-process, with the bench's client)", limit: tolerated, abs: 30, rel: 0.1}, float64(runtime.NumGoroutine()))
	if err := processRows(&s, "manager", os.Getpid(), false); err != nil {
		return s, err
	}
	for _, n := range nodes {
		if err := processRows(&s, "agent "+n.agent.Node, n.agent.Pid(), true); err != nil {
			return s, err
		}
		ctrd, err := childNamed(n.agent.Pid(), "containerd")
		if err != nil {
			return s, err
		}
		if err := processRows(&s, "containerd "+n.agent.Node, ctrd, true); err != nil {
			return s, err
		}
		if err := containerdRows(ctx, &s, n); err != nil {
			return s, err
		}
		shims, err := shimCount(n.agent.Address)
		if err != nil {
			return s, err
		}
		s.add(soakRow{name: "containerd shims " + n.agent.Node}, float64(shims))
		leases, err := countFiles(filepath.Join(n.dir, "cni"), func(path string, d fs.DirEntry) bool { return isAddr(d.Name()) })
		if err != nil {
			return s, err
		}
		s.add(soakRow{name: "IP leases " + n.agent.Node}, float64(leases))
		pods, err := os.ReadDir(filepath.Join(n.dir, "pods"))
		if err != nil && !os.IsNotExist(err) {
			return s, err
		}
		s.add(soakRow{name: "pod dirs " + n.agent.Node}, float64(len(pods)))
		for _, table := range []string{proxy.TableName(n.agent.Node), apiservice.TableName(n.agent.Node)} {
			rules, err := nftRules(ctx, "table", "ip", table)
			if err != nil {
				return s, err
			}
			s.add(soakRow{name: "nft rules+elements " + table}, float64(rules))
		}
	}
	return s, hostRows(ctx, &s, logDir)
}

// hostRows adds what the agents share on the host: network namespaces, veths, the whole
// nftables ruleset and the container log directory.
func hostRows(ctx context.Context, s *sample, logDir string) error {
	netns, err := os.ReadDir("/run/netns")
	if err != nil && !os.IsNotExist(err) {
		return err
	}
	pods := 0
	for _, n := range netns {
		if strings.HasPrefix(n.Name(), "kybern-") {
			pods++
		}
	}
	s.add(soakRow{name: "pod network namespaces (/run/netns/kybern-*)"}, float64(pods))
	links, err := os.ReadDir("/sys/class/net")
	if err != nil {
		return err
	}
	veths := 0
	for _, l := range links {
		if strings.HasPrefix(l.Name(), "veth") {
			veths++
		}
	}
	s.add(soakRow{name: "host veth interfaces"}, float64(veths))
	rules, err := nftRules(ctx, "ruleset")
	if err != nil {
		return err
	}
	s.add(soakRow{name: "nft rules+elements, whole ruleset"}, float64(rules))
	files, err := countFiles(logDir, func(_ string, d fs.DirEntry) bool { return d.Type().IsRegular() })
	if err != nil {
		return err
	}
	s.add(soakRow{name: "container log files"}, float64(files))
	dirs, err := os.ReadDir(logDir)
	if err != nil && !os.IsNotExist(err) {
		return err
	}
	s.add(soakRow{name: "pod log dirs"}, float64(len(dirs)))
	return nil
}

// processRows adds a process's threads (or goroutines), resident memory and open files.
// Go never ends the threads it made, so a thread count is a high-water mark: reported only.
func processRows(s *sample, who string, pid int, threads bool) error {
	status, err := procStatus(pid)
	if err != nil {
		return err
	}
	if threads {
		s.add(soakRow{name: who + " threads (/proc Threads)", limit: reported}, status["Threads"])
	}
	s.add(soakRow{name: who + " RSS MiB", limit: tolerated, abs: 8, rel: 0.25}, status["VmRSS"]/1024)
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return err
	}
	s.add(soakRow{name: who + " open fds"}, float64(len(fds)))
	return nil
}

// procStatus reads the numeric fields of /proc/<pid>/status (kB for sizes).
func procStatus(pid int) (map[string]float64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return nil, err
	}
	out := map[string]float64{}
	for _, line := range strings.Split(string(data), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		if f, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 64); err == nil {
			out[k] = f
		}
	}
	return out, nil
}

// childNamed finds the child of pid whose command is name.
func childNamed(pid int, name string) (int, error) {
	procs, err := os.ReadDir("/proc")
	if err != nil {
		return 0, err
	}
	for _, p := range procs {
		child, err := strconv.Atoi(p.Name())
		if err != nil {
			continue
		}
		status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", child))
		if err != nil {
			continue
		}
		if procField(status, "Name") == name && procField(status, "PPid") == strconv.Itoa(pid) {
			return child, nil
		}
	}
	return 0, fmt.Errorf("no %s process under pid %d", name, pid)
}

func procField(status []byte, field string) string {
	for _, line := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// shimCount counts the containerd shims serving the containerd at address: their
// command line names it after -address.
func shimCount(address string) (int, error) {
	procs, err := os.ReadDir("/proc")
	if err != nil {
		return 0, err
	}
	n := 0
	for _, p := range procs {
		if _, err := strconv.Atoi(p.Name()); err != nil {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", p.Name(), "cmdline"))
		if err != nil {
			continue
		}
		args := strings.Split(string(cmdline), "\x00")
		if !strings.HasPrefix(filepath.Base(args[0]), "containerd-shim") {
			continue
		}
		for i := range len(args) - 1 {
			if args[i] == "-address" && args[i+1] == address {
				n++
				break
			}
		}
	}
	return n, nil
}

// containerdRows adds the containers, tasks, snapshots and leases in the agent's
// containerd namespace.
func containerdRows(ctx context.Context, s *sample, n soakNode) error {
	cl, err := containerd.New(n.agent.Address, containerd.WithDefaultNamespace("kybern-"+n.agent.Node))
	if err != nil {
		return err
	}
	defer cl.Close()
	containers, err := cl.Containers(ctx)
	if err != nil {
		return err
	}
	s.add(soakRow{name: "containerd containers " + n.agent.Node}, float64(len(containers)))
	tasks, err := cl.TaskService().List(ctx, nil)
	if err != nil {
		return err
	}
	s.add(soakRow{name: "containerd tasks " + n.agent.Node}, float64(len(tasks.Tasks)))
	snaps := 0
	err = cl.SnapshotService("overlayfs").Walk(ctx, func(context.Context, snapshots.Info) error { snaps++; return nil })
	if err != nil {
		return err
	}
	s.add(soakRow{name: "containerd snapshots " + n.agent.Node}, float64(snaps))
	leases, err := cl.LeasesService().List(ctx)
	if err != nil {
		return err
	}
	s.add(soakRow{name: "containerd leases " + n.agent.Node}, float64(len(leases)))
	return nil
}

// nftRules counts the rules, and the elements of sets and maps, that `nft -j list <what>`
// shows; a table that does not exist has none.
func nftRules(ctx context.Context, what ...string) (int, error) {
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, "nft", append([]string{"-j", "list"}, what...)...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		if strings.Contains(stderr.String(), "No such file or directory") {
			return 0, nil
		}
		return 0, fmt.Errorf("nft list %v: %w: %s", what, err, stderr.String())
	}
	n, err := countNft(out)
	if err != nil {
		return 0, fmt.Errorf("nft list %v: %w", what, err)
	}
	return n, nil
}

// countNft counts the rules, and the elements of sets and maps, in nft's JSON output.
func countNft(out []byte) (int, error) {
	var doc struct {
		Nftables []map[string]json.RawMessage `json:"nftables"`
	}
	if err := json.Unmarshal(out, &doc); err != nil {
		return 0, err
	}
	n := 0
	for _, obj := range doc.Nftables {
		if _, ok := obj["rule"]; ok {
			n++
		}
		for _, kind := range []string{"set", "map"} {
			var set struct {
				Elem []json.RawMessage `json:"elem"`
			}
			if raw, ok := obj[kind]; ok && json.Unmarshal(raw, &set) == nil {
				n += len(set.Elem)
			}
		}
	}
	return n, nil
}

// countFiles counts the entries under dir that match; a missing dir has none.
func countFiles(dir string, match func(string, fs.DirEntry) bool) (int, error) {
	n := 0
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if os.IsNotExist(err) {
				return nil
			}
			return err
		}
		if !d.IsDir() && match(path, d) {
			n++
		}
		return nil
	})
	return n, err
}

// isAddr reports whether name is an address, as host-local IPAM names its lease files.
func isAddr(name string) bool {
	_, err := netip.ParseAddr(name)
	return err == nil
}
