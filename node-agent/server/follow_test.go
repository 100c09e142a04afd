package server

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// A follower goes on into the file that replaces the one it read when the log driver
// rotates it, after the lines written to the old one before the rename.
func TestCopyLogFollowsAcrossRotation(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "0.log")
	appendTo := func(name, records string) {
		t.Helper()
		f, err := os.OpenFile(name, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.WriteString(records); err != nil {
			t.Fatal(err)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
	}
	appendTo(path, "2026-01-02T03:04:01Z stdout F one\n")
	var out lockedBuffer
	var running atomic.Bool
	running.Store(true)
	done := make(chan error, 1)
	go func() {
		done <- copyLog(context.Background(), path, LogOptions{Follow: true}, &out, running.Load)
	}()
	awaitOutput(t, &out, "one\n")
	// Rotated as the driver rotates: the last write to the old file, the rename, the new file.
	appendTo(path, "2026-01-02T03:04:02Z stdout F two\n")
	if err := os.Rename(path, path+".20260102-030402"); err != nil {
		t.Fatal(err)
	}
	appendTo(path, "2026-01-02T03:04:03Z stderr F three\n")
	awaitOutput(t, &out, "one\ntwo\nthree\n")
	appendTo(path, "2026-01-02T03:04:04Z stdout F four\n")
	running.Store(false)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got, want := out.String(), "one\ntwo\nthree\nfour\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

// awaitOutput waits up to 10 s until out holds want.
func awaitOutput(t *testing.T, out *lockedBuffer, want string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for out.String() != want {
		if time.Now().After(deadline) {
			t.Fatalf("output %q, want %q", out.String(), want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// lockedBuffer is a strings.Builder that may be written and read at once.
type lockedBuffer struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
