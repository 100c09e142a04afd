package testenv

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// hostLockPath is one file per machine, whichever clone or worktree the tests run from.
var hostLockPath = filepath.Join(os.TempDir(), "kybern-real-containers.lock")

// LockHost waits until no other test process on this machine runs real containers, and
// returns the function that lets the next one in. Node agents with real containers share
// the host's network: agents of two control planes give their first nodes the same pod
// CIDR, and the second refuses to take over a bridge that has the first one's pods on it.
// `go test ./...` runs packages in parallel, so every suite that starts such an agent holds
// this lock while it does. The lock is flock(2)'s: it ends with the process that holds it.
func LockHost() (unlock func(), err error) {
	f, err := os.OpenFile(hostLockPath, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening the host lock for tests with real containers: %w", err)
	}
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX)
		if err != syscall.EINTR {
			break
		}
	}
	if err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("locking %s: %w", hostLockPath, err)
	}
	return func() { _ = f.Close() }, nil
}
