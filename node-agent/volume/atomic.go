package volume

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// dataLink is the symlink that names the current generation of a projected volume's files.
const dataLink = "..data"

// file is one file of a projected volume.
type file struct {
	data []byte
	mode fs.FileMode
}

// writeAtomic makes dir hold exactly files (paths relative to dir), the way upstream's
// kubelet updates ConfigMap and Secret volumes: each generation is written into a fresh
// hidden directory, the ..data symlink is swapped to it with one rename, and every
// top-level name is a symlink through ..data. A reader therefore sees either the old set
// of files or the new one, never a mix. Nothing is written when the files did not change;
// changed says whether they did.
func writeAtomic(dir string, files map[string]file, now time.Time) (changed bool, err error) {
	for p := range files {
		if !validPath(p) {
			return false, fmt.Errorf("invalid path %q: it must be relative, without '..' elements and not start with '..'", p)
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return false, err
	}
	old, err := os.Readlink(filepath.Join(dir, dataLink))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return false, err
	}
	if old != "" && same(filepath.Join(dir, old), files) {
		return false, nil
	}
	genDir, err := os.MkdirTemp(dir, now.UTC().Format("..2006_01_02_15_04_05."))
	if err != nil {
		return false, err
	}
	if err := os.Chmod(genDir, 0o755); err != nil {
		return false, err
	}
	gen := filepath.Base(genDir)
	for p, f := range files {
		target := filepath.Join(genDir, p)
		if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
			return false, err
		}
		if err := os.WriteFile(target, f.data, f.mode); err != nil {
			return false, err
		}
		// WriteFile's mode is masked by the umask; the volume's mode is not.
		if err := os.Chmod(target, f.mode); err != nil {
			return false, err
		}
	}
	tmp := filepath.Join(dir, dataLink+"_tmp")
	_ = os.Remove(tmp)
	if err := os.Symlink(gen, tmp); err != nil {
		return false, err
	}
	if err := os.Rename(tmp, filepath.Join(dir, dataLink)); err != nil {
		return false, err
	}
	top := map[string]bool{}
	for p := range files {
		top[strings.SplitN(p, "/", 2)[0]] = true
	}
	for name := range top {
		link := filepath.Join(dir, name)
		if _, err := os.Lstat(link); errors.Is(err, fs.ErrNotExist) {
			if err := os.Symlink(filepath.Join(dataLink, name), link); err != nil {
				return false, err
			}
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return false, err
	}
	for _, e := range entries {
		switch name := e.Name(); {
		case name == dataLink || name == gen:
		case strings.HasPrefix(name, ".."):
			if err := os.RemoveAll(filepath.Join(dir, name)); err != nil {
				return false, err
			}
		case !top[name]:
			if err := os.Remove(filepath.Join(dir, name)); err != nil {
				return false, err
			}
		}
	}
	return true, nil
}

// same says whether the generation in genDir holds exactly files, with their modes.
func same(genDir string, files map[string]file) bool {
	n := 0
	err := filepath.WalkDir(genDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(genDir, path)
		if err != nil {
			return err
		}
		f, ok := files[filepath.ToSlash(rel)]
		info, statErr := d.Info()
		if !ok || statErr != nil || info.Mode().Perm() != f.mode.Perm() {
			return fs.ErrInvalid
		}
		data, err := os.ReadFile(path)
		if err != nil || !bytes.Equal(data, f.data) {
			return fs.ErrInvalid
		}
		n++
		return nil
	})
	return err == nil && n == len(files)
}

// validPath refuses paths that could leave the volume.
func validPath(p string) bool {
	if p == "" || filepath.IsAbs(p) || strings.HasPrefix(p, "..") {
		return false
	}
	for _, part := range strings.Split(p, "/") {
		if part == ".." {
			return false
		}
	}
	return true
}
