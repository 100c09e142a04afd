package containerd

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"

	"k8s.io/apimachinery/pkg/types"
)

// netnsDir is where iproute2 keeps named network namespaces.
const netnsDir = "/run/netns"

func netnsName(uid types.UID) string { return "kybern-" + string(uid) }

func netnsPath(uid types.UID) string { return filepath.Join(netnsDir, netnsName(uid)) }

// ensureNetNS creates the named network namespace with its loopback up, unless it exists.
func ensureNetNS(ctx context.Context, name string) error {
	if _, err := os.Stat(filepath.Join(netnsDir, name)); err == nil {
		return nil
	}
	if out, err := exec.CommandContext(ctx, "ip", "netns", "add", name).CombinedOutput(); err != nil {
		return fmt.Errorf("ip netns add %s: %w: %s", name, err, out)
	}
	if out, err := exec.CommandContext(ctx, "ip", "-n", name, "link", "set", "lo", "up").CombinedOutput(); err != nil {
		return fmt.Errorf("bringing up loopback in %s: %w: %s", name, err, out)
	}
	return nil
}

// deleteNetNS removes the named network namespace; a missing one is no error.
func deleteNetNS(ctx context.Context, name string) error {
	if _, err := os.Stat(filepath.Join(netnsDir, name)); os.IsNotExist(err) {
		return nil
	}
	if out, err := exec.CommandContext(ctx, "ip", "netns", "delete", name).CombinedOutput(); err != nil {
		return fmt.Errorf("ip netns delete %s: %w: %s", name, err, out)
	}
	return nil
}
