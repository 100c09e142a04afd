package containerd

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"
)

// Embedded is a containerd the agent starts and stops itself, whose root, state and
// socket live under one directory, so several agents on one machine do not collide.
// Containers outlive it: their shims keep them running, and the next Embedded on the
// same directory finds them again.
type Embedded struct {
	Address string
	cmd     *exec.Cmd
	done    chan error
}

// StartEmbedded starts containerd with its state in dir and waits until it serves.
// Its output goes to dir/containerd.log.
func StartEmbedded(ctx context.Context, dir string) (*Embedded, error) {
	if _, err := exec.LookPath("containerd"); err != nil {
		return nil, fmt.Errorf("--containerd=embedded needs containerd and runc: apt-get install -y containerd runc")
	}
	if err := os.MkdirAll(dir, 0o711); err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	e := &Embedded{Address: filepath.Join(abs, "containerd.sock"), done: make(chan error, 1)}
	config := fmt.Sprintf(`version = 2
root = %q
state = %q
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = %q
[ttrpc]
  address = %q
`, filepath.Join(abs, "root"), filepath.Join(abs, "state"), e.Address, e.Address+".ttrpc")
	configPath := filepath.Join(abs, "containerd.toml")
	if err := os.WriteFile(configPath, []byte(config), 0o644); err != nil {
		return nil, err
	}
	logFile, err := os.OpenFile(filepath.Join(abs, "containerd.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	e.cmd = exec.Command("containerd", "--config", configPath)
	e.cmd.Stdout, e.cmd.Stderr = logFile, logFile
	// Its own process group: a Ctrl-C meant for the agent reaches containerd only through
	// Stop, after the agent is done with it. It ends with the agent, even a killed one; the
	// shims keep the containers running for the next.
	e.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	if err := e.cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("starting containerd: %w", err)
	}
	go func() {
		e.done <- e.cmd.Wait()
		logFile.Close()
	}()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if conn, err := net.Dial("unix", e.Address); err == nil {
			conn.Close()
			return e, nil
		}
		select {
		case err := <-e.done:
			return nil, fmt.Errorf("containerd exited at start (%v); see %s", err, filepath.Join(abs, "containerd.log"))
		case <-ctx.Done():
			return nil, errors.Join(ctx.Err(), e.Stop())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return nil, errors.Join(fmt.Errorf("containerd did not serve %s within 30s; see %s", e.Address, filepath.Join(abs, "containerd.log")), e.Stop())
		}
	}
}

// Stop stops containerd with SIGTERM, and SIGKILL after 10 s.
func (e *Embedded) Stop() error {
	if err := e.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return nil // It has exited already.
	}
	select {
	case err := <-e.done:
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			return nil // Whatever its status, this is the shutdown SIGTERM asked for.
		}
		return err
	case <-time.After(10 * time.Second):
		return e.cmd.Process.Kill()
	}
}
