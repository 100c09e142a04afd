package main

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// startTimeout bounds how long `up` waits for a control plane to serve. A cold start is
// about 4 seconds; etcd replaying a large data directory takes longer.
const startTimeout = 3 * time.Minute

// up starts `serve` as a detached process unless a control plane already runs, and waits
// until it serves or fails. On failure it shows the end of the control plane's log.
func up(st state) error {
	if st.running() {
		fmt.Printf("Control plane already running (pid %d); kubeconfig %s\n", st.pid(), st.kubeconfig())
		return nil
	}
	if err := os.MkdirAll(st.dir, 0o755); err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	logf, err := os.OpenFile(st.logFile(), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logf.Close()
	readyR, readyW, err := os.Pipe()
	if err != nil {
		return err
	}
	defer readyR.Close()

	cmd := exec.Command(self, "--dir", st.dir, "serve")
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.ExtraFiles = []*os.File{readyW}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		readyW.Close()
		return err
	}
	readyW.Close()

	result := make(chan error, 1)
	go func() {
		line, err := bufio.NewReader(readyR).ReadString('\n')
		if strings.TrimSpace(line) == "ready" {
			result <- nil
			return
		}
		if err == nil {
			err = fmt.Errorf("unexpected %q", line)
		}
		result <- err
	}()
	select {
	case err := <-result:
		if err != nil {
			_ = cmd.Wait()
			return fmt.Errorf("the control plane did not start; the end of %s:\n%s", st.logFile(), tail(st.logFile(), 20))
		}
	case <-time.After(startTimeout):
		_ = cmd.Process.Signal(syscall.SIGTERM)
		return fmt.Errorf("the control plane did not serve within %s; the end of %s:\n%s", startTimeout, st.logFile(), tail(st.logFile(), 20))
	}
	pid := cmd.Process.Pid
	_ = cmd.Process.Release()
	fmt.Printf("Control plane running (pid %d); kubeconfig %s\n", pid, st.kubeconfig())
	return nil
}

// down stops the running control plane, waiting for it to flush etcd, then any strays.
func down(st state) error {
	if st.running() {
		pid := st.pid()
		if pid == 0 {
			return errors.New("the control plane runs but wrote no pid file: stop it by hand")
		}
		if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
			return fmt.Errorf("stopping control plane pid %d: %w", pid, err)
		}
		deadline := time.Now().Add(90 * time.Second)
		for st.running() && time.Now().Before(deadline) {
			time.Sleep(200 * time.Millisecond)
		}
		if st.running() {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	stopStrays(st)
	fmt.Printf("Control plane stopped; its data stays in %s\n", st.etcdDir())
	return nil
}

// tail returns the last n lines of a file, for error messages.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
