package diskusage

import (
	"os"
	"path/filepath"
	"testing"
)

func TestOfCountsBlocksAndInodesButNoSymlinkTarget(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "c"), 0o755); err != nil {
		t.Fatal(err)
	}
	// A container's log directory: the current file and a compressed rotated one.
	for name, size := range map[string]int{"c/0.log": 64 << 10, "c/0.log.20261203-080405.gz": 3000} {
		if err := os.WriteFile(filepath.Join(dir, name), make([]byte, size), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	outside := t.TempDir()
	if err := os.WriteFile(filepath.Join(outside, "big"), make([]byte, 1<<20), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	got := Of(dir)
	// Whole blocks: at least the bytes written, never the 1 MiB behind the symlink.
	if got.Bytes < 64<<10+3000 || got.Bytes >= 1<<20 {
		t.Errorf("Of = %d bytes, want the two files' 67 KiB and not the 1 MiB behind the symlink", got.Bytes)
	}
	if got.Inodes != 5 {
		t.Errorf("Of = %d inodes, want 5 (two directories, two files, the link)", got.Inodes)
	}
	if u := Of(filepath.Join(dir, "missing")); u != (Usage{}) {
		t.Errorf("Of a missing directory = %+v, want nothing", u)
	}
}
