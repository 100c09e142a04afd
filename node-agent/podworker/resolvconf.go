package podworker

import (
	"fmt"
	"os"
	"path/filepath"

	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
	"github.com/kybern/kybern/node-agent/resolvconf"
	"github.com/kybern/kybern/node-agent/runtime"
)

// resolvConfMount writes the pod's resolv.conf into its directory and mounts it over
// the container's /etc/resolv.conf, read-only.
func (w *Worker) resolvConfMount(pod *corev1alpha1.Pod) ([]runtime.Mount, error) {
	if w.env.DNS == nil || w.env.PodDir == "" {
		return nil, nil
	}
	dir := filepath.Join(w.env.PodDir, string(pod.UID))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	path := filepath.Join(dir, "resolv.conf")
	if err := os.WriteFile(path, []byte(resolvconf.ForPod(pod, w.env.DNS)), 0o644); err != nil {
		return nil, fmt.Errorf("writing the pod's resolv.conf: %w", err)
	}
	return []runtime.Mount{{Source: path, Destination: "/etc/resolv.conf", ReadOnly: true}}, nil
}
