package volume

import (
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

func groupOf(t *testing.T, path string) (uint32, fs.FileMode) {
	t.Helper()
	info, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	return info.Sys().(*syscall.Stat_t).Gid, info.Mode()
}

func TestOwnGivesTheVolumeToTheGroupAndFollowsNoLink(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("changing a file's group to another needs root")
	}
	const gid = 4242
	root, outside := t.TempDir(), filepath.Join(t.TempDir(), "host-file")
	for _, f := range []string{outside, filepath.Join(root, "data")} {
		if err := os.WriteFile(f, nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(outside, filepath.Join(root, "planted")); err != nil {
		t.Fatal(err)
	}
	if err := own(root, gid, false); err != nil {
		t.Fatal(err)
	}
	if g, mode := groupOf(t, root); g != gid || mode&fs.ModeSetgid == 0 || mode.Perm()&0o070 != 0o070 {
		t.Errorf("volume root: group %d, mode %s; want %d, setgid, group rwx", g, mode, gid)
	}
	if g, mode := groupOf(t, filepath.Join(root, "data")); g != gid || mode.Perm() != 0o660 {
		t.Errorf("file: group %d, mode %s; want %d, 0660", g, mode, gid)
	}
	if g, mode := groupOf(t, outside); g == gid || mode.Perm() != 0o600 {
		t.Errorf("the file outside the volume, behind a link, changed: group %d, mode %s", g, mode)
	}
	if !rootOwned(root, gid) {
		t.Error("rootOwned is false after own")
	}
}
