package testenv

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"time"
)

// ManagerProcess is the manager binary built from main.go running as a process of its
// own, so that a test can end it as an operator or a crash would: SIGTERM or SIGKILL.
type ManagerProcess struct {
	// LogFile has the manager's output.
	LogFile string
	cmd     *exec.Cmd
	done    chan error
}

// BuildManager builds the manager binary (main.go) into out.
func BuildManager(out string) error {
	cmd := exec.Command("go", "build", "-o", out, ".")
	cmd.Dir = RepoRoot()
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build -o %s .: %w: %s", out, err, b)
	}
	return nil
}

// ManagerProcessArgs are the flags a manager process started against e needs besides the
// caller's: e's admin kubeconfig, e's CA to sign node agents' client certificates with and
// to publish to pods (with the controllers that give namespaces their service account and
// CA, as make run does), and no metrics, probe or admission listener, so that several
// managers can run side by side.
func (e *Env) ManagerProcessArgs() []string {
	return []string{"--kubeconfig", e.Kubeconfig,
		"--cluster-signing-cert-file", e.CA.CertFile, "--cluster-signing-key-file", e.CA.KeyFile,
		"--root-ca-file", e.CA.CertFile, "--controllers", "*,serviceaccount,root-ca-cert-publisher",
		"--metrics-bind-address", "0", "--health-probe-bind-address", "0", "--webhook-bind-address", "0"}
}

// StartManagerProcess starts the manager binary bin with args, its output appended to
// logFile. It ends with the process that started it, even a killed one.
func StartManagerProcess(bin, logFile string, args ...string) (*ManagerProcess, error) {
	out, err := os.OpenFile(logFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	m := &ManagerProcess{LogFile: logFile, cmd: exec.Command(bin, args...), done: make(chan error, 1)}
	m.cmd.Stdout, m.cmd.Stderr = out, out
	m.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := m.cmd.Start(); err != nil {
		out.Close()
		return nil, err
	}
	go func() { m.done <- m.cmd.Wait(); out.Close() }()
	return m, nil
}

// Pid is the manager's process ID.
func (m *ManagerProcess) Pid() int { return m.cmd.Process.Pid }

// Exited reports whether the manager has exited, and with what error.
func (m *ManagerProcess) Exited() (bool, error) {
	select {
	case err := <-m.done:
		m.done <- err
		return true, err
	default:
		return false, nil
	}
}

// Kill ends the manager with SIGKILL, as a crash or an OOM kill does: it releases nothing,
// its leader Lease among it. It returns once the process is gone.
func (m *ManagerProcess) Kill() error {
	if exited, _ := m.Exited(); exited {
		return nil
	}
	if err := m.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		return err
	}
	// The process ended by the signal it was sent: an exit error says so and is expected.
	var exit *exec.ExitError
	if err := m.Wait(10 * time.Second); !errors.As(err, &exit) {
		return err
	}
	return nil
}

// Term sends the manager SIGTERM, as a rolling update of its Deployment does, without
// waiting: Wait does. A manager that stops so releases its leader Lease.
func (m *ManagerProcess) Term() error {
	if exited, _ := m.Exited(); exited {
		return nil
	}
	return m.cmd.Process.Signal(syscall.SIGTERM)
}

// Wait waits up to timeout for the process to exit and returns how it did: nil for exit
// code 0.
func (m *ManagerProcess) Wait(timeout time.Duration) error {
	select {
	case err := <-m.done:
		m.done <- err
		return err
	case <-time.After(timeout):
		return fmt.Errorf("manager process %d did not exit within %s; see %s", m.Pid(), timeout, m.LogFile)
	}
}
