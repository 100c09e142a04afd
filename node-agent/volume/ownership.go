package volume

import (
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// Group permission bits given to a volume's files for the pod's fsGroup, as upstream's
// SetVolumeOwnership: read for read-only volumes, read and write otherwise, and set-group-ID
// directories so that new files inherit the group.
const (
	roFileMask fs.FileMode = 0o440
	rwFileMask fs.FileMode = 0o660
	roDirMask  fs.FileMode = 0o550
	rwDirMask  fs.FileMode = 0o770
)

// rootOwned says whether the directory at dir already belongs to group gid with set-group-ID.
func rootOwned(dir string, gid int64) bool {
	info, err := os.Stat(dir)
	if err != nil {
		return false
	}
	st, ok := info.Sys().(*syscall.Stat_t)
	return ok && int64(st.Gid) == gid && info.Mode()&fs.ModeSetgid != 0
}

// own gives the tree at dir to group gid. Symlinks are changed themselves and never
// followed, so a link a container planted cannot hand a host file to the group.
func own(dir string, gid int64, readOnly bool) error {
	fileMask, dirMask := rwFileMask, rwDirMask
	if readOnly {
		fileMask, dirMask = roFileMask, roDirMask
	}
	return filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := os.Lchown(path, -1, int(gid)); err != nil {
			return err
		}
		if d.Type()&fs.ModeSymlink != 0 {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		mode := info.Mode()
		if d.IsDir() {
			return os.Chmod(path, mode.Perm()|dirMask|fs.ModeSetgid|mode&fs.ModeSticky)
		}
		return os.Chmod(path, mode.Perm()|fileMask)
	})
}
