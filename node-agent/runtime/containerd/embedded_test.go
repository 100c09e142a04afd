package containerd

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/containerd/errdefs"
	"github.com/go-logr/logr/testr"
)

// embeddedPid is the pid the embedded containerd of dir recorded.
func embeddedPid(t *testing.T, dir string) int {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, PidFile))
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil {
		t.Fatal(err)
	}
	return pid
}

// awaitChange is the next OnChange report, failing after timeout.
func awaitChange(t *testing.T, changes <-chan bool, timeout time.Duration) bool {
	t.Helper()
	select {
	case up := <-changes:
		return up
	case <-time.After(timeout):
		t.Fatalf("no OnChange report within %s", timeout)
		return false
	}
}

// TestEmbeddedRestarts kills the embedded containerd and checks that calls fail at once
// while it is down, that it comes back with a new pid, that the same client works again,
// and that Stop during the restart delay ends it for good.
func TestEmbeddedRestarts(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("starts containerd: needs root")
	}
	if _, err := exec.LookPath("containerd"); err != nil {
		t.Skip("needs containerd")
	}
	dir := t.TempDir()
	ctx := t.Context()
	e, err := StartEmbedded(ctx, dir, Supervision{Log: testr.New(t), Backoff: Backoff{Initial: 2 * time.Second, Max: 2 * time.Second, Reset: time.Minute}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Stop() })
	changes := make(chan bool, 4)
	e.OnChange(func(up bool) { changes <- up })
	rt, err := New(e.Address, "test", LogDriver{Path: "/bin/true"}, filepath.Join(dir, "net"), Ranges{})
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close()
	if _, err := rt.Version(ctx); err != nil {
		t.Fatal(err)
	}

	first := embeddedPid(t, dir)
	if err := syscall.Kill(first, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if awaitChange(t, changes, 5*time.Second) {
		t.Fatal("OnChange(true) after containerd was killed")
	}
	start := time.Now()
	_, err = rt.Containers(context.Background())
	if took := time.Since(start); err == nil || took > time.Second {
		t.Fatalf("Containers while containerd is down: %v after %s, want an error at once", err, took)
	}
	if !errdefs.IsUnavailable(err) || !strings.Contains(err.Error(), "containerd at "+e.Address+" is not serving") {
		t.Errorf("Containers while containerd is down: %v, want Unavailable naming %s", err, e.Address)
	}

	if !awaitChange(t, changes, 10*time.Second) {
		t.Fatal("OnChange(false) twice")
	}
	second := embeddedPid(t, dir)
	if second == first {
		t.Fatalf("containerd restarted with the killed one's pid %d", first)
	}
	deadline := time.Now().Add(3 * time.Second)
	for {
		if _, err = rt.Version(ctx); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the client did not reconnect within 3s of containerd's restart: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}

	// Stopped during the restart delay: no containerd comes back.
	if err := syscall.Kill(second, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if awaitChange(t, changes, 5*time.Second) {
		t.Fatal("OnChange(true) after containerd was killed")
	}
	start = time.Now()
	if err := e.Stop(); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > time.Second {
		t.Errorf("Stop during the restart delay took %s", took)
	}
	select {
	case up := <-changes:
		t.Errorf("OnChange(%v) after Stop", up)
	default:
	}
	if _, err := os.Stat(filepath.Join(dir, PidFile)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the pid file after Stop: %v, want none", err)
	}
}
