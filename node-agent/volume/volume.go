// Package volume prepares the volumes of a node's pods as host directories that the
// runtime bind-mounts into containers: emptyDir (on disk, or tmpfs for medium Memory),
// hostPath with its type checks, and configMap, secret, downwardAPI and projected volumes
// (service account tokens included, token.go) whose files are kept up to date with an
// atomic symlink swap, as upstream's kubelet does.
package volume

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"

	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
)

// defaultMode is the file mode of projected files whose volume and item name none.
const defaultMode fs.FileMode = 0o644

// Manager prepares volumes under Root/<pod uid>/volumes/<volume name>.
type Manager struct {
	Root string
	// Client reads the ConfigMaps and Secrets that volumes project, requests their
	// service account tokens, and claims PersistentVolumeClaims for this node.
	Client client.Client
	// Objects, when set, serves the ConfigMaps and Secrets from watches instead of Client.
	Objects *Objects
	Clock   clock.PassiveClock
	// NodeName is this node's; ClaimRoot holds the data of the claims bound to it, one
	// directory per claim UID, kept when pods go. SharedClaimRoot, when set, is where every
	// node mounts the same filesystem, holding the claims of shared-directory classes.
	NodeName        string
	ClaimRoot       string
	SharedClaimRoot string
	// Tmpfs backs Secret volumes and medium Memory emptyDirs with tmpfs mounts, so that
	// their contents never reach a disk; it needs root. Without it they are directories.
	Tmpfs bool
	// PinSubPaths bind-mounts each subPath at a path of the agent's own before the runtime
	// mounts it (see SubPath); it needs root, and a runtime that mounts what it is given.
	PinSubPaths bool
	// HostIP and Allocatable feed downwardAPI files, as they feed env.
	HostIP      string
	Allocatable corev1.ResourceList

	tokens tokens
}

// Setup makes every volume of pod ready and returns each one's host path by name. Projected
// files are rewritten only when their content changed. The first volume that cannot be
// set up fails it, with upstream's message.
func (m *Manager) Setup(ctx context.Context, pod *corev1alpha1.Pod) (map[string]string, error) {
	paths := make(map[string]string, len(pod.Spec.Volumes))
	// Only root may enter a pod's directory, as under the kubelet: a Secret's files are not
	// for the node's other users.
	podDir := filepath.Join(m.Root, string(pod.UID))
	if err := os.MkdirAll(filepath.Join(podDir, "volumes"), 0o750); err != nil {
		return nil, err
	}
	for _, d := range []string{podDir, filepath.Join(podDir, "volumes")} {
		if err := os.Chmod(d, 0o750); err != nil {
			return nil, err
		}
	}
	for i := range pod.Spec.Volumes {
		v := &pod.Spec.Volumes[i]
		path, err := m.setup(ctx, pod, v)
		if err == nil {
			err = m.ownership(pod, v, path)
		}
		if err != nil {
			return nil, fmt.Errorf("MountVolume.SetUp failed for volume %q : %w", v.Name, err)
		}
		paths[v.Name] = path
	}
	return paths, nil
}

// Refreshes says whether pod has volumes whose files follow objects that may change.
func Refreshes(pod *corev1alpha1.Pod) bool {
	for _, v := range pod.Spec.Volumes {
		if v.ConfigMap != nil || v.Secret != nil || v.DownwardAPI != nil || v.Projected != nil {
			return true
		}
	}
	return false
}

// TearDown removes every volume of the pod with uid, unmounting its subPath pins and tmpfs
// mounts first.
// Removing volumes that do not exist is no error.
func (m *Manager) TearDown(uid types.UID) error {
	m.forgetTokens(uid)
	if m.Objects != nil {
		m.Objects.Release(uid)
	}
	dir := filepath.Join(m.Root, string(uid))
	entries, err := os.ReadDir(filepath.Join(dir, "volumes"))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if err := unmountSubPaths(dir); err != nil {
		return err
	}
	for _, e := range entries {
		if err := unmountIfMounted(filepath.Join(dir, "volumes", e.Name())); err != nil {
			return err
		}
	}
	return os.RemoveAll(dir)
}

// ownership gives a volume the pod can write or read through projection to its fsGroup, as
// upstream does; hostPath volumes stay as the host has them.
func (m *Manager) ownership(pod *corev1alpha1.Pod, v *corev1.Volume, path string) error {
	if pod.Spec.SecurityContext == nil || pod.Spec.SecurityContext.FSGroup == nil || v.HostPath != nil {
		return nil
	}
	gid := *pod.Spec.SecurityContext.FSGroup
	readOnly := v.ConfigMap != nil || v.Secret != nil || v.DownwardAPI != nil || v.Projected != nil
	if !readOnly && rootOwned(path, gid) {
		// As fsGroupChangePolicy OnRootMismatch: a writable volume whose root already has
		// the group is not walked again at each refresh. Projected files are rewritten
		// when their objects change, so those are always given the group.
		return nil
	}
	return own(path, gid, readOnly)
}

func (m *Manager) dir(uid types.UID, name string) string {
	return filepath.Join(m.Root, string(uid), "volumes", name)
}

func (m *Manager) setup(ctx context.Context, pod *corev1alpha1.Pod, v *corev1.Volume) (string, error) {
	// The name becomes a directory: whatever admitted the pod, it must be one element.
	if errs := validation.IsDNS1123Label(v.Name); len(errs) > 0 {
		return "", fmt.Errorf("the volume name is not a DNS-1123 label (%s): rename it", strings.Join(errs, "; "))
	}
	dir := m.dir(pod.UID, v.Name)
	switch {
	case v.EmptyDir != nil:
		if err := os.MkdirAll(dir, 0o777); err != nil {
			return "", err
		}
		if v.EmptyDir.Medium == corev1.StorageMediumMemory && m.Tmpfs {
			size := ""
			if v.EmptyDir.SizeLimit != nil && !v.EmptyDir.SizeLimit.IsZero() {
				size = strconv.FormatInt(v.EmptyDir.SizeLimit.Value(), 10)
			}
			if err := mountTmpfs(dir, size, 0o777); err != nil {
				return "", err
			}
		}
		// Containers of any user may write an emptyDir, as upstream's.
		return dir, os.Chmod(dir, 0o777)
	case v.HostPath != nil:
		return v.HostPath.Path, checkHostPath(v.HostPath)
	case v.ConfigMap != nil, v.Secret != nil, v.DownwardAPI != nil, v.Projected != nil:
		files, secret, err := m.projection(ctx, pod, v)
		if err != nil {
			return "", err
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return "", err
		}
		if secret && m.Tmpfs {
			if err := mountTmpfs(dir, "", 0o755); err != nil {
				return "", err
			}
		}
		_, err = writeAtomic(dir, files, m.Clock.Now())
		return dir, err
	case v.PersistentVolumeClaim != nil:
		return m.claim(ctx, pod.Namespace, v.PersistentVolumeClaim.ClaimName)
	}
	return "", errors.New("this volume type is not supported by kybern's node agent: use emptyDir, hostPath, configMap, secret, downwardAPI, projected or persistentVolumeClaim")
}

// checkHostPath applies hostPath's type as upstream does, creating what the OrCreate
// types allow.
func checkHostPath(h *corev1.HostPathVolumeSource) error {
	path := h.Path
	kind := corev1.HostPathUnset
	if h.Type != nil {
		kind = *h.Type
	}
	info, err := os.Stat(path)
	exists := err == nil
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	switch kind {
	case corev1.HostPathUnset:
		return nil
	case corev1.HostPathDirectoryOrCreate:
		if !exists {
			return os.MkdirAll(path, 0o755)
		}
		if !info.IsDir() {
			return fmt.Errorf("hostPath type check failed: %s is not a directory", path)
		}
	case corev1.HostPathFileOrCreate:
		if !exists {
			f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY, 0o644)
			if err != nil {
				return err
			}
			return f.Close()
		}
		if !info.Mode().IsRegular() {
			return fmt.Errorf("hostPath type check failed: %s is not a file", path)
		}
	case corev1.HostPathDirectory:
		if !exists || !info.IsDir() {
			return fmt.Errorf("hostPath type check failed: %s is not a directory", path)
		}
	case corev1.HostPathFile:
		if !exists || !info.Mode().IsRegular() {
			return fmt.Errorf("hostPath type check failed: %s is not a file", path)
		}
	case corev1.HostPathSocket:
		if !exists || info.Mode()&fs.ModeSocket == 0 {
			return fmt.Errorf("hostPath type check failed: %s is not a socket file", path)
		}
	case corev1.HostPathCharDev:
		if !exists || info.Mode()&fs.ModeCharDevice == 0 {
			return fmt.Errorf("hostPath type check failed: %s is not a character device", path)
		}
	case corev1.HostPathBlockDev:
		if !exists || info.Mode()&fs.ModeDevice == 0 || info.Mode()&fs.ModeCharDevice != 0 {
			return fmt.Errorf("hostPath type check failed: %s is not a block device", path)
		}
	default:
		return fmt.Errorf("hostPath type %q is not one of upstream's types", kind)
	}
	return nil
}
