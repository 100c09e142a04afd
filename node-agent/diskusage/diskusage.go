// Package diskusage measures the disk a directory tree takes, as du does: the eviction
// manager's emptyDir and container-log usage, whose log layout node-agent/containerlogs
// names.
package diskusage

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// Usage is what a directory tree takes of its filesystem.
type Usage struct {
	// Bytes are the bytes allocated to its files (whole blocks, so a small or sparse
	// file's differ from its size).
	Bytes int64
	// Inodes are its files, directories and links, dir itself included.
	Inodes int64
}

// Of walks dir once and measures it. The walk stays on dir's filesystem and follows no
// symlink, so bind mounts and links under dir, which a pod may make, are not counted.
// A missing dir takes nothing; files that vanish during the walk and directories that
// cannot be read are skipped, so that a pod's churn does not fail the measurement.
func Of(dir string) Usage {
	var root syscall.Stat_t
	if err := syscall.Lstat(dir, &root); err != nil {
		return Usage{}
	}
	var u Usage
	_ = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return nil
			}
			return fs.SkipDir
		}
		var st syscall.Stat_t
		if syscall.Lstat(path, &st) != nil {
			return nil
		}
		if st.Dev != root.Dev {
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		u.Bytes += st.Blocks * 512
		u.Inodes++
		return nil
	})
	return u
}
