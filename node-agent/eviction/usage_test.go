package eviction

import (
	"os"
	"path/filepath"
	"testing"
)

func TestDuCountsFilesAndNoSymlinkTarget(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "data"), make([]byte, 64<<10), 0o600); err != nil {
		t.Fatal(err)
	}
	outside := t.TempDir()
	if err := os.WriteFile(filepath.Join(outside, "big"), make([]byte, 1<<20), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	bytes, inodes := du(dir)
	if bytes < 64<<10 || bytes >= 1<<20 {
		t.Errorf("du = %d bytes, want the 64 KiB file and not the 1 MiB behind the symlink", bytes)
	}
	if inodes != 3 {
		t.Errorf("du = %d inodes, want 3 (the directory, the file, the link)", inodes)
	}
	if b, i := du(filepath.Join(dir, "missing")); b != 0 || i != 0 {
		t.Errorf("du of a missing directory = %d, %d", b, i)
	}
	for name, want := range map[string]bool{"scratch": true, "..": false, ".": false, "a/b": false, "": false} {
		if safeName(name) != want {
			t.Errorf("safeName(%q) = %v", name, !want)
		}
	}
}
