package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// state names the files of one local control plane under its directory.
type state struct{ dir string }

func (s state) etcdDir() string    { return filepath.Join(s.dir, "etcd") }
func (s state) certDir() string    { return filepath.Join(s.dir, "pki") }
func (s state) kubeconfig() string { return filepath.Join(s.dir, "kubeconfig") }

// clusterCADir holds the client CA, kept across restarts: node agents' certificates,
// which the manager signs with it, stay valid.
func (s state) clusterCADir() string { return filepath.Join(s.dir, "cluster-ca") }

// bootstrapKubeconfig is what join writes for node agents to join with.
func (s state) bootstrapKubeconfig() string { return filepath.Join(s.dir, "bootstrap-kubeconfig") }
func (s state) logFile() string             { return filepath.Join(s.dir, "controlplane.log") }
func (s state) lockFile() string            { return filepath.Join(s.dir, "controlplane.lock") }
func (s state) pidFile() string             { return filepath.Join(s.dir, "controlplane.pid") }

// lock takes the control plane's exclusive lock without waiting. The kernel releases it
// when the holder exits, however it exits, so a lock can never outlive its process.
func (s state) lock() (*os.File, error) {
	if err := os.MkdirAll(s.dir, 0o755); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(s.lockFile(), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("the control plane in %s is already running (pid %d)", s.dir, s.pid())
		}
		return nil, err
	}
	return f, nil
}

// running reports whether a control plane holds the lock of this directory.
func (s state) running() bool {
	f, err := s.lock()
	if err != nil {
		return true
	}
	f.Close()
	return false
}

// pid is the process id recorded by the running control plane, or 0.
func (s state) pid() int {
	b, err := os.ReadFile(s.pidFile())
	if err != nil {
		return 0
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return pid
}

// strays lists processes other than this one whose command line names this state
// directory: the etcd and kube-apiserver of a control plane whose supervisor was killed.
func (s state) strays() []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	needles := [][]byte{[]byte("--data-dir=" + s.etcdDir()), []byte("--cert-dir=" + s.certDir())}
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		for _, n := range needles {
			if bytes.Contains(cmdline, n) {
				pids = append(pids, pid)
				break
			}
		}
	}
	return pids
}
