package podworker

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
	corev1 "k8s.io/api/core/v1"
)

// beneath resolves a path under a directory fd as if that directory were the root of the
// world, refusing any step (a "..", an absolute symlink, a relative one) that leaves it.
var beneath = &unix.OpenHow{Flags: unix.O_PATH | unix.O_CLOEXEC, Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_MAGICLINKS}

// subPath is the host path of sub inside the volume at root, with symlinks resolved. Symlinks
// that stay inside the volume are followed (a configMap's files are links into its ..data
// directory), and one that leads out of it, as a container may plant in a writable volume,
// is refused, so that the mount never exposes the host. A missing directory is made in a
// writable volume, as upstream does. A link swapped in after the check, before the runtime
// mounts the path, is not caught yet.
func subPath(root, sub string, v *corev1.Volume) (string, error) {
	if err := checkSubPath("subPath", sub); err != nil {
		return "", err
	}
	create := v.EmptyDir != nil || v.HostPath != nil || v.PersistentVolumeClaim != nil
	resolved, err := resolveBeneath(root, sub, create)
	if errors.Is(err, unix.EXDEV) || errors.Is(err, unix.ELOOP) {
		return "", fmt.Errorf("subPath %q leads out of the volume through a symlink: point subPath at a path inside it", sub)
	}
	if err != nil {
		return "", fmt.Errorf("subPath %q: %w", sub, err)
	}
	return resolved, nil
}

// resolveBeneath opens sub beneath root, making missing directories one element at a time
// when create is set, and returns the real path it opened.
func resolveBeneath(root, sub string, create bool) (string, error) {
	dir, err := unix.Open(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return "", fmt.Errorf("opening the volume: %w", err)
	}
	defer func() { _ = unix.Close(dir) }()
	fd, err := unix.Openat2(dir, sub, beneath)
	if errors.Is(err, unix.ENOENT) && create {
		fd, err = makeBeneath(dir, sub)
	}
	if err != nil {
		return "", err
	}
	defer func() { _ = unix.Close(fd) }()
	return os.Readlink("/proc/self/fd/" + strconv.Itoa(fd))
}

// makeBeneath makes each missing directory of sub beneath dir and opens the last.
func makeBeneath(dir int, sub string) (int, error) {
	done := ""
	for _, elem := range strings.Split(sub, "/") {
		if elem == "" || elem == "." {
			continue
		}
		done += "/" + elem
		if err := unix.Mkdirat(dir, done[1:], 0o755); err != nil && !errors.Is(err, unix.EEXIST) {
			return -1, err
		}
		// Open what was made or found: a symlink found on the way must stay beneath dir.
		fd, err := unix.Openat2(dir, done[1:], beneath)
		if err != nil {
			return -1, err
		}
		_ = unix.Close(fd)
	}
	return unix.Openat2(dir, strings.TrimPrefix(done, "/"), beneath)
}
