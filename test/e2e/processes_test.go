package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	. "github.com/onsi/gomega"

	"github.com/kybern/kybern/node-agent/runtime/containerd"
)

// containerdPid is the pid of node's embedded containerd, as it records it while it runs.
func containerdPid(node string) (int, error) {
	data, err := os.ReadFile(filepath.Join(work, "nodes", node, containerd.PidFile))
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(strings.TrimSpace(string(data)))
}

// containerPids are the host pids of the init processes of node's containers by container
// ID, as their shims record them in containerd's state directory.
func containerPids(node string) (map[string]int, error) {
	files, err := filepath.Glob(filepath.Join(work, "nodes", node, "state", "io.containerd.runtime.v2.task", "kybern-"+node, "*", "init.pid"))
	if err != nil {
		return nil, err
	}
	out := map[string]int{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		out[filepath.Base(filepath.Dir(f))] = pid
	}
	return out, nil
}

// alive says whether process pid runs: it exists and is no zombie.
func alive(pid int) bool {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// The state follows the command, which is in parentheses and may hold spaces.
	fields := strings.Fields(string(data[strings.LastIndexByte(string(data), ')')+1:]))
	return len(fields) > 0 && fields[0] != "Z"
}

// killAgent kills node's agent with SIGKILL, as a crash would, and waits until it has
// exited; its containerd gets SIGTERM from its Pdeathsig, and its containers keep running.
func killAgent(node string) {
	a := agents[node]
	ExpectWithOffset(1, syscall.Kill(a.Pid(), syscall.SIGKILL)).To(Succeed())
	EventuallyWithOffset(1, func() bool { exited, _ := a.Exited(); return exited }).Should(BeTrue())
	delete(agents, node)
}
