package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"
)

// NoCmdImage is busybox without a default command, for tests of pods that name none.
const NoCmdImage = "docker.io/kybern/nocmd:latest"

// AgentProcess is a node-agent process with an embedded containerd, as make run starts
// one: its state, images and logs live under a work directory.
type AgentProcess struct {
	Node string
	// Address is its containerd's socket.
	Address string
	// LogFile has the agent's own output.
	LogFile string
	// ImageDir holds the image archives the agent imports.
	ImageDir string
	cmd      *exec.Cmd
	done     chan error
}

// BuildNodeAgent builds the node agent, its log driver, the kubectl plugin and the image
// archives into work, for StartAgentProcess: busybox, and NoCmdImage, the same without a default command.
func BuildNodeAgent(work string) error {
	for _, args := range [][]string{
		{"build", "-o", filepath.Join(work, "node-agent"), "./node-agent"},
		{"build", "-o", filepath.Join(work, "kybern-log-driver"), "./node-agent/logdriver"},
		{"build", "-o", filepath.Join(work, "kubectl-kybern"), "./kubectl-kybern"},
		{"run", "./hack/images", "-out", filepath.Join(work, "images", "busybox.tar")},
		{"run", "./hack/images", "-out", filepath.Join(work, "images", "nocmd.tar"), "-name", NoCmdImage, "-no-cmd"},
	} {
		cmd := exec.Command("go", args...)
		cmd.Dir = RepoRoot()
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("go %v: %w: %s", args, err, out)
		}
	}
	return nil
}

// StartAgentProcess starts the agent BuildNodeAgent built in work for node, against the
// cluster kubeconfig names. It ends with the process that started it, even a killed one.
func StartAgentProcess(work, kubeconfig, node string) (*AgentProcess, error) {
	return startAgentProcess(work, node, "--kubeconfig", kubeconfig)
}

// StartAgentProcessWith is StartAgentProcess with extra flags for the agent, such as
// --eviction-hard.
func StartAgentProcessWith(work, kubeconfig, node string, flags ...string) (*AgentProcess, error) {
	return startAgentProcess(work, node, append([]string{"--kubeconfig", kubeconfig}, flags...)...)
}

// StartJoiningAgentProcess is StartAgentProcess for an agent that joins with a bootstrap
// kubeconfig and keeps its certificate in work/nodes/<node>/pki, as make run's does;
// flags are more of the agent's flags.
func StartJoiningAgentProcess(work, bootstrapKubeconfig, node string, flags ...string) (*AgentProcess, error) {
	return startAgentProcess(work, node, append([]string{"--bootstrap-kubeconfig", bootstrapKubeconfig}, flags...)...)
}

func startAgentProcess(work, node string, credential ...string) (*AgentProcess, error) {
	a := &AgentProcess{Node: node, LogFile: filepath.Join(work, node+".log"), ImageDir: filepath.Join(work, "images"),
		Address: filepath.Join(work, "nodes", node, "containerd.sock"), done: make(chan error, 1)}
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	out, err := os.OpenFile(a.LogFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	// Agents share the machine: each serves its API on a port of its own.
	a.cmd = exec.Command(filepath.Join(work, "node-agent"), append(credential, "--node-name", node, "--port", port,
		"--containerd=embedded", "--state-dir", work, "--image-dir", a.ImageDir,
		"--log-dir", filepath.Join(work, "logs"))...)
	a.cmd.Stdout, a.cmd.Stderr = out, out
	a.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	if err := a.cmd.Start(); err != nil {
		out.Close()
		return nil, err
	}
	go func() { a.done <- a.cmd.Wait(); out.Close() }()
	return a, nil
}

// Pid is the agent's process ID.
func (a *AgentProcess) Pid() int { return a.cmd.Process.Pid }

// Exited reports whether the agent has exited, and with what error.
func (a *AgentProcess) Exited() (bool, error) {
	select {
	case err := <-a.done:
		a.done <- err
		return true, err
	default:
		return false, nil
	}
}

// Stop ends the agent as Ctrl-C would and waits up to 30 s; its containers keep running.
func (a *AgentProcess) Stop() error {
	if exited, _ := a.Exited(); exited {
		return nil
	}
	if err := a.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return err
	}
	select {
	case err := <-a.done:
		a.done <- err
		return err
	case <-time.After(30 * time.Second):
		return fmt.Errorf("node agent %s did not stop within 30s; see %s", a.Node, a.LogFile)
	}
}
