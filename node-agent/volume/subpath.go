package volume

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
	"k8s.io/apimachinery/pkg/types"
)

// ErrSubPathEscapes is the error of a subPath that leads out of its volume through a symlink.
var ErrSubPathEscapes = errors.New("leads out of the volume through a symlink: point subPath at a path inside it")

// beneath resolves a path under a directory fd as if that directory were the root of the
// world, refusing any step (a "..", an absolute symlink, a relative one) that leaves it.
var beneath = &unix.OpenHow{Flags: unix.O_PATH | unix.O_CLOEXEC, Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_MAGICLINKS}

// SubPathMount names one subPath mount of a pod: the volume, at host path Volume, its
// path SubPath inside it (relative, without ".."; the caller checked the spelling), and
// the container and mount index that use it.
type SubPathMount struct {
	Pod       types.UID
	Name      string
	Volume    string
	SubPath   string
	Container string
	Index     int
	// Create makes missing directories of SubPath, as upstream does in a writable volume.
	Create bool
}

// SubPath is the host path the runtime bind-mounts for m. SubPath is opened beneath the
// volume, symlinks followed only while they stay inside it (a configMap's files are links
// into its ..data directory); one that leads out, as a container may plant in a writable
// volume, fails with ErrSubPathEscapes. With PinSubPaths, the file opened is itself
// bind-mounted at Root/<pod uid>/volume-subpaths/<volume>/<container>/<index>, as the
// kubelet does, and that path is returned: a symlink swapped into the volume after the
// check leads the runtime nowhere, as the pinned mount holds what was checked. Without it,
// the path resolved is returned.
func (m *Manager) SubPath(sp SubPathMount) (string, error) {
	fd, err := openBeneath(sp.Volume, sp.SubPath, sp.Create)
	if errors.Is(err, unix.EXDEV) || errors.Is(err, unix.ELOOP) {
		return "", fmt.Errorf("subPath %q %w", sp.SubPath, ErrSubPathEscapes)
	}
	if err != nil {
		return "", fmt.Errorf("subPath %q: %w", sp.SubPath, err)
	}
	defer func() { _ = unix.Close(fd) }()
	source := "/proc/self/fd/" + strconv.Itoa(fd)
	if !m.PinSubPaths {
		return os.Readlink(source)
	}
	target := filepath.Join(m.Root, string(sp.Pod), "volume-subpaths", sp.Name, sp.Container, strconv.Itoa(sp.Index))
	if err := pinTarget(fd, target); err != nil {
		return "", err
	}
	if err := unix.Mount(source, target, "", unix.MS_BIND, ""); err != nil {
		return "", fmt.Errorf("pinning subPath %q at %s: %w", sp.SubPath, target, err)
	}
	return target, nil
}

// pinTarget makes target ready to take a bind mount of the file fd holds: free of an
// earlier pin (a restarted container's), and a directory or an empty file as that file is.
func pinTarget(fd int, target string) error {
	if err := unmountBind(target); err != nil {
		return err
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return err
	}
	dir := st.Mode&unix.S_IFMT == unix.S_IFDIR
	if fi, err := os.Lstat(target); err == nil && fi.IsDir() != dir {
		if err := os.Remove(target); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(filepath.Dir(target), 0o750); err != nil {
		return err
	}
	if dir {
		if err := os.Mkdir(target, 0o750); err != nil && !errors.Is(err, fs.ErrExist) {
			return err
		}
		return nil
	}
	f, err := os.OpenFile(target, os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	return f.Close()
}

// unmountSubPaths removes every subPath pin of the pod directory dir, so that removing dir
// cannot reach through a pin into a volume's data (a claim's outlives the pod).
func unmountSubPaths(dir string) error {
	root := filepath.Join(dir, "volume-subpaths")
	leaves, err := filepath.Glob(filepath.Join(root, "*", "*", "*"))
	if err != nil {
		return err
	}
	for _, leaf := range leaves {
		if err := unmountBind(leaf); err != nil {
			return err
		}
	}
	return nil
}

// unmountBind detaches whatever is mounted on target; a target that is no mount point, or
// is not there, is fine.
func unmountBind(target string) error {
	err := unix.Unmount(target, unix.MNT_DETACH|unix.UMOUNT_NOFOLLOW)
	if err == nil || errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOENT) {
		return nil
	}
	return fmt.Errorf("unmounting the subPath pin %s: %w", target, err)
}

// openBeneath opens sub beneath root with O_PATH, making missing directories one element
// at a time when create is set.
func openBeneath(root, sub string, create bool) (int, error) {
	dir, err := unix.Open(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("opening the volume: %w", err)
	}
	defer func() { _ = unix.Close(dir) }()
	fd, err := unix.Openat2(dir, sub, beneath)
	if errors.Is(err, unix.ENOENT) && create {
		fd, err = makeBeneath(dir, sub)
	}
	return fd, err
}

// makeBeneath makes each missing directory of sub beneath root and opens the last. Each
// directory is made inside the one opened beneath root before it, never through a path a
// container could swap for a symlink meanwhile.
func makeBeneath(root int, sub string) (int, error) {
	parent, err := unix.Openat2(root, ".", beneath)
	if err != nil {
		return -1, err
	}
	done := "."
	for _, elem := range strings.Split(sub, "/") {
		if elem == "" || elem == "." {
			continue
		}
		if err := unix.Mkdirat(parent, elem, 0o755); err != nil && !errors.Is(err, unix.EEXIST) {
			_ = unix.Close(parent)
			return -1, err
		}
		done = path.Join(done, elem)
		next, err := unix.Openat2(root, done, beneath)
		_ = unix.Close(parent)
		if err != nil {
			return -1, err
		}
		parent = next
	}
	return parent, nil
}
