package containerd

import (
	"context"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/containerd/containerd/v2/contrib/seccomp"
	"github.com/containerd/containerd/v2/core/containers"
	"github.com/containerd/containerd/v2/pkg/oci"

	"github.com/kybern/kybern/node-agent/runtime"
)

// resourceOpts sets a container's cgroup limits and OOM score.
func resourceOpts(r runtime.Resources) []oci.SpecOpts {
	var opts []oci.SpecOpts
	if r.CPUShares > 0 {
		opts = append(opts, oci.WithCPUShares(r.CPUShares))
	}
	if r.CPUQuota > 0 {
		opts = append(opts, oci.WithCPUCFS(r.CPUQuota, r.CPUPeriod))
	}
	if r.MemoryLimit > 0 {
		opts = append(opts, oci.WithMemoryLimit(uint64(r.MemoryLimit)))
	}
	// As containerd's restrictOOMScoreAdj: never below the agent's own score, which the
	// shim inherits; runc cannot start a process below it ("can't get final child's PID").
	score := max(r.OOMScoreAdj, ownOOMScoreAdj())
	opts = append(opts, func(_ context.Context, _ oci.Client, _ *containers.Container, s *oci.Spec) error {
		if s.Process != nil {
			s.Process.OOMScoreAdj = &score
		}
		return nil
	})
	return opts
}

// securityOpts applies a container's user, root filesystem, privilege and capabilities.
// They come after the image's config, which they override.
func securityOpts(sec runtime.Security) []oci.SpecOpts {
	var opts []oci.SpecOpts
	switch {
	case sec.RunAsUser != nil && sec.RunAsGroup != nil:
		opts = append(opts, oci.WithUIDGID(uint32(*sec.RunAsUser), uint32(*sec.RunAsGroup)))
	case sec.RunAsUser != nil:
		// The group is the user's primary group in the image, else 0.
		opts = append(opts, oci.WithUserID(uint32(*sec.RunAsUser)))
	case sec.RunAsGroup != nil:
		gid := uint32(*sec.RunAsGroup)
		opts = append(opts, func(_ context.Context, _ oci.Client, _ *containers.Container, s *oci.Spec) error {
			s.Process.User.GID = gid
			return nil
		})
	}
	if len(sec.SupplementalGroups) > 0 {
		gids := make([]uint32, 0, len(sec.SupplementalGroups))
		for _, g := range sec.SupplementalGroups {
			gids = append(gids, uint32(g))
		}
		opts = append(opts, func(_ context.Context, _ oci.Client, _ *containers.Container, s *oci.Spec) error {
			s.Process.User.AdditionalGids = append(s.Process.User.AdditionalGids, gids...)
			return nil
		})
	}
	if sec.SeccompRuntimeDefault && !sec.Privileged {
		opts = append(opts, seccomp.WithDefaultProfile())
	}
	if sec.RunAsNonRoot {
		// After the image's user and the ones above are applied: the user that will run.
		opts = append(opts, func(_ context.Context, _ oci.Client, _ *containers.Container, s *oci.Spec) error {
			if s.Process == nil || s.Process.User.UID == 0 {
				return runtime.ErrRunAsRoot
			}
			return nil
		})
	}
	if sec.ReadOnlyRootFS {
		opts = append(opts, oci.WithRootFSReadonly())
	}
	if sec.Privileged {
		opts = append(opts, oci.WithPrivileged, oci.WithAllDevicesAllowed, oci.WithHostDevices)
		return opts
	}
	if slices.ContainsFunc(sec.DropCapabilities, func(c string) bool { return strings.EqualFold(c, "ALL") }) {
		opts = append(opts, oci.WithCapabilities(nil))
	} else if len(sec.DropCapabilities) > 0 {
		opts = append(opts, oci.WithDroppedCapabilities(capNames(sec.DropCapabilities)))
	}
	if len(sec.AddCapabilities) > 0 {
		opts = append(opts, oci.WithAddedCapabilities(capNames(sec.AddCapabilities)))
	}
	return opts
}

// capNames turns a securityContext's capability names ("NET_ADMIN") into the OCI
// spec's ("CAP_NET_ADMIN").
func capNames(caps []string) []string {
	out := make([]string, 0, len(caps))
	for _, c := range caps {
		c = strings.ToUpper(c)
		if !strings.HasPrefix(c, "CAP_") {
			c = "CAP_" + c
		}
		out = append(out, c)
	}
	return out
}

// ownOOMScoreAdj is this process's OOM score adjustment, 0 when unreadable.
func ownOOMScoreAdj() int {
	data, err := os.ReadFile("/proc/self/oom_score_adj")
	if err != nil {
		return 0
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil {
		return 0
	}
	return n
}
