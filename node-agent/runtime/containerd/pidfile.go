package containerd

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// writePid records pid in path, replacing it at once so that a reader never sees half.
func writePid(path string, pid int) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(strconv.Itoa(pid)+"\n"), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// awaitPrevious waits until the containerd that a previous agent started on this
// directory, if one still runs, has exited: a killed agent's containerd gets SIGTERM
// from its Pdeathsig and may still be shutting down, holding the directory's database.
// It sends it SIGKILL after 10 s; that leaves the shims and their containers running.
func (e *Embedded) awaitPrevious(ctx context.Context) error {
	data, err := os.ReadFile(filepath.Join(e.dir, PidFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil || pid <= 1 || !e.serves(pid) {
		return nil // Not a containerd of this directory's: a stale file.
	}
	e.log.Info("Waiting for the previous agent's containerd to exit", "pid", pid, "dir", e.dir)
	_ = syscall.Kill(pid, syscall.SIGTERM)
	deadline := time.Now().Add(10 * time.Second)
	for e.serves(pid) {
		if time.Now().After(deadline) {
			if err := syscall.Kill(pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
				return fmt.Errorf("killing the previous containerd (pid %d) of %s: %w", pid, e.dir, err)
			}
			deadline = time.Now().Add(10 * time.Second)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	return nil
}

// serves says whether pid is a containerd running with this directory's configuration;
// a zombie has no command line, and a reused pid another one.
func (e *Embedded) serves(pid int) bool {
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return false
	}
	args := bytes.Split(bytes.TrimRight(cmdline, "\x00"), []byte{0})
	return len(args) == 3 && filepath.Base(string(args[0])) == "containerd" && string(args[1]) == "--config" && string(args[2]) == e.config
}
