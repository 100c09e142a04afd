package volume

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestSubPathRefusesSymlinks(t *testing.T) {
	root, outside := t.TempDir(), t.TempDir()
	m := &Manager{Root: t.TempDir()}
	sub := func(p string, create bool) (string, error) {
		return m.SubPath(SubPathMount{Pod: "uid", Name: "data", Volume: root, SubPath: p, Container: "c", Create: create})
	}
	if err := os.Symlink(outside, filepath.Join(root, "escape")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/", filepath.Join(root, "slash")); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"escape", "escape/new", "slash", "slash/etc", "slash/etc/new"} {
		if got, err := sub(p, true); !errors.Is(err, ErrSubPathEscapes) {
			t.Errorf("subPath %q through a symlink gave %s, %v; want ErrSubPathEscapes", p, got, err)
		}
	}
	if entries, _ := os.ReadDir(outside); len(entries) != 0 {
		t.Errorf("a directory was made outside the volume: %v", entries)
	}
	// A configMap's files are links into its ..data directory: links inside the volume hold.
	if err := os.MkdirAll(filepath.Join(root, "..data"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "..data", "app.conf"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("..data/app.conf", filepath.Join(root, "app.conf")); err != nil {
		t.Fatal(err)
	}
	if got, err := sub("app.conf", false); err != nil || got != filepath.Join(root, "..data", "app.conf") {
		t.Fatalf("subPath app.conf through a link inside the volume: %s, %v", got, err)
	}
	if got, err := sub("a/b", false); err == nil {
		t.Fatalf("subPath a/b of a read-only volume, missing: %s; want an error", got)
	}
	got, err := sub("a/b", true)
	if err != nil || got != filepath.Join(root, "a/b") {
		t.Fatalf("subPath a/b: %s, %v", got, err)
	}
	if fi, err := os.Stat(got); err != nil || !fi.IsDir() {
		t.Fatalf("the missing directory was not made: %v", err)
	}
}

// TestSubPathPinHoldsWhatWasChecked swaps a checked directory for a symlink to / after
// the check, as a container racing the agent would: the pinned path still shows the
// directory that was checked, and tearing the pod down leaves the volume's data alone.
func TestSubPathPinHoldsWhatWasChecked(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("bind mounts need root; CI runs as root")
	}
	root := t.TempDir()
	m := &Manager{Root: t.TempDir(), PinSubPaths: true}
	if err := os.MkdirAll(filepath.Join(root, "app"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "app", "data.txt"), []byte("kept"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "file.txt"), []byte("one file"), 0o644); err != nil {
		t.Fatal(err)
	}
	pin := func(p string, index int) string {
		got, err := m.SubPath(SubPathMount{Pod: "uid", Name: "data", Volume: root, SubPath: p, Container: "c", Index: index})
		if err != nil {
			t.Fatalf("SubPath %s: %v", p, err)
		}
		return got
	}
	dir, file := pin("app", 0), pin("file.txt", 1)
	// A restarted container pins again at the same place.
	if again := pin("app", 0); again != dir {
		t.Fatalf("the second pin is at %s, the first at %s", again, dir)
	}
	if err := os.Rename(filepath.Join(root, "app"), filepath.Join(root, "moved")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/", filepath.Join(root, "app")); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "data.txt")); err != nil || string(b) != "kept" {
		t.Fatalf("the pin after the swap: %q, %v; want the checked directory's file", b, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "etc")); err == nil {
		t.Fatal("the pin shows the host's root after the swap")
	}
	if b, err := os.ReadFile(file); err != nil || string(b) != "one file" {
		t.Fatalf("the pinned file: %q, %v", b, err)
	}
	if err := m.TearDown("uid"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "moved", "data.txt")); err != nil {
		t.Fatalf("tearing the pod down reached through its pin into the volume: %v", err)
	}
	if _, err := os.Stat(filepath.Join(m.Root, "uid")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the pod directory is left: %v", err)
	}
}
