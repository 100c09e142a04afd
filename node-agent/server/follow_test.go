package server

import (
	"context"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/kybern/kybern/node-agent/internal/testutil"
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
	var out testutil.Buffer
	var running atomic.Bool
	running.Store(true)
	done := make(chan error, 1)
	go func() {
		done <- copyLog(context.Background(), path, LogOptions{Follow: true}, &out, running.Load)
	}()
	testutil.Until(t, "the first line", func() bool { return out.String() == "one\n" })
	// Rotated as the driver rotates: the last write to the old file, the rename, the new file.
	appendTo(path, "2026-01-02T03:04:02Z stdout F two\n")
	if err := os.Rename(path, path+".20260102-030402"); err != nil {
		t.Fatal(err)
	}
	appendTo(path, "2026-01-02T03:04:03Z stderr F three\n")
	testutil.Until(t, "the lines before and after the rotation", func() bool { return out.String() == "one\ntwo\nthree\n" })
	appendTo(path, "2026-01-02T03:04:04Z stdout F four\n")
	running.Store(false)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got, want := out.String(), "one\ntwo\nthree\nfour\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}
