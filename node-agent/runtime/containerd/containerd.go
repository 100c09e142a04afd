// Package containerd runs a node's containers through containerd, in a containerd
// namespace of the agent's own, so that several agents can share one containerd.
package containerd

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	containerd "github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/pkg/cio"
	"github.com/containerd/containerd/v2/pkg/oci"
	"github.com/containerd/errdefs"
	"github.com/distribution/reference"
	"github.com/opencontainers/runtime-spec/specs-go"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/kybern/kybern/node-agent/runtime"
)

// snapshotter is the snapshotter containers' root filesystems are made with.
const snapshotter = "overlayfs"

// Labels on each container, from which Containers rebuilds what it was started for.
const (
	labelPodUID       = "io.kybern.pod.uid"
	labelPodNamespace = "io.kybern.pod.namespace"
	labelPodName      = "io.kybern.pod.name"
	labelName         = "io.kybern.container.name"
	labelAttempt      = "io.kybern.container.attempt"
	labelImage        = "io.kybern.container.image"
	labelStartedAt    = "io.kybern.container.started-at"
)

// Runtime is containerd as a runtime.Runtime.
type Runtime struct {
	client    *containerd.Client
	namespace string
	net       *network
	// logDriver is the kybern-log-driver binary, which containerd's shim runs for each
	// container to write and rotate its log, so logs outlive an agent restart.
	logDriver LogDriver

	mu sync.Mutex
	// preloaded are the images imported from the image directory; they count as pulled.
	preloaded map[string]bool
}

var _ runtime.Runtime = (*Runtime)(nil)

// LogDriver is the kybern-log-driver binary and how it rotates containers' logs.
type LogDriver struct {
	Path string
	// MaxSize is the size at which a container's log file is rotated; 0 never rotates it.
	MaxSize int64
	// MaxFiles is the most files a container's log keeps, the current one included.
	MaxFiles int
}

// args are the driver's arguments, which the shim gets in the log URI.
func (d LogDriver) args(logPath string) map[string]string {
	args := map[string]string{"--log-file": logPath}
	if d.MaxSize > 0 {
		args["--max-size"] = strconv.FormatInt(d.MaxSize, 10)
		args["--max-files"] = strconv.Itoa(d.MaxFiles)
	}
	return args
}

// New connects to the containerd at address and works in namespace; the pods' network
// state (address leases) goes in netDir, and their routes cover ranges.
func New(address, namespace string, logDriver LogDriver, netDir string, ranges Ranges) (*Runtime, error) {
	c, err := containerd.New(address, containerd.WithDefaultNamespace(namespace), containerd.WithTimeout(10*time.Second),
		containerd.WithExtraDialOpts(restartable(address)))
	if err != nil {
		return nil, fmt.Errorf("connecting to containerd at %s: %w", address, err)
	}
	return &Runtime{client: c, namespace: namespace, net: &network{node: namespace, stateDir: netDir, ranges: ranges}, logDriver: logDriver,
		preloaded: map[string]bool{}}, nil
}

// Close disconnects from containerd; containers keep running.
func (r *Runtime) Close() error { return r.client.Close() }

// Version implements runtime.Runtime.
func (r *Runtime) Version(ctx context.Context) (string, error) {
	v, err := r.client.Version(ctx)
	if err != nil {
		return "", err
	}
	return "containerd://" + v.Version, nil
}

// ImportDir imports every *.tar image archive in dir and unpacks it; those images then
// satisfy any pull policy without a pull, as this node's local copies.
func (r *Runtime) ImportDir(ctx context.Context, dir string) ([]string, error) {
	archives, err := filepath.Glob(filepath.Join(dir, "*.tar"))
	if err != nil {
		return nil, err
	}
	var names []string
	for _, path := range archives {
		imported, err := r.importArchive(ctx, path)
		if err != nil {
			return names, fmt.Errorf("importing %s: %w", path, err)
		}
		names = append(names, imported...)
	}
	return names, nil
}

func (r *Runtime) importArchive(ctx context.Context, path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	imgs, err := r.client.Import(ctx, f)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, img := range imgs {
		if err := containerd.NewImage(r.client, img).Unpack(ctx, snapshotter); err != nil {
			return names, fmt.Errorf("unpacking %s: %w", img.Name, err)
		}
		r.mu.Lock()
		r.preloaded[img.Name] = true
		r.mu.Unlock()
		names = append(names, img.Name)
	}
	return names, nil
}

// EnsureImage implements runtime.Runtime.
func (r *Runtime) EnsureImage(ctx context.Context, image string, policy corev1.PullPolicy, pulling func()) (runtime.Image, error) {
	ref, err := normalize(image)
	if err != nil {
		return runtime.Image{}, &runtime.ImagePullError{Image: image, Message: err.Error()}
	}
	if policy == "" {
		policy = corev1.PullIfNotPresent
		if strings.HasSuffix(ref, ":latest") {
			policy = corev1.PullAlways
		}
	}
	r.mu.Lock()
	preloaded := r.preloaded[ref]
	r.mu.Unlock()
	img, err := r.client.GetImage(ctx, ref)
	present := err == nil
	if err != nil && !errdefs.IsNotFound(err) {
		return runtime.Image{}, err
	}
	switch {
	case present && (policy != corev1.PullAlways || preloaded):
		return runtime.Image{ID: img.Target().Digest.String()}, nil
	case policy == corev1.PullNever:
		return runtime.Image{}, runtime.ErrImageNeverPull
	}
	if pulling != nil {
		pulling()
	}
	start := time.Now()
	pulled, err := r.client.Pull(ctx, ref, containerd.WithPullUnpack, containerd.WithPullSnapshotter(snapshotter))
	if err != nil {
		return runtime.Image{}, &runtime.ImagePullError{Image: image, Message: err.Error()}
	}
	pull := &runtime.Pull{Duration: time.Since(start)}
	if pull.Size, err = pulled.Size(ctx); err != nil {
		return runtime.Image{}, fmt.Errorf("sizing pulled image %s: %w", ref, err)
	}
	return runtime.Image{ID: pulled.Target().Digest.String(), Pull: pull}, nil
}

// normalize turns "busybox" into "docker.io/library/busybox:latest".
func normalize(image string) (string, error) {
	named, err := reference.ParseDockerRef(image)
	if err != nil {
		return "", err
	}
	return named.String(), nil
}

// SetPodCIDR implements runtime.Runtime.
func (r *Runtime) SetPodCIDR(ctx context.Context, cidr string) error {
	return r.net.configure(ctx, cidr)
}

// StartSandbox implements runtime.Runtime: the sandbox is a network namespace with
// loopback up and an address on the node's bridge, which every container of the pod joins.
// A pod on the host's network has no sandbox: it returns no addresses.
func (r *Runtime) StartSandbox(ctx context.Context, pod runtime.PodRef) ([]string, error) {
	if pod.HostNetwork {
		return nil, nil
	}
	if err := ensureNetNS(ctx, netnsName(pod.UID)); err != nil {
		return nil, err
	}
	return r.net.setUp(ctx, pod.UID, pod.HostPorts)
}

// StopSandbox implements runtime.Runtime.
func (r *Runtime) StopSandbox(ctx context.Context, pod runtime.PodRef) error {
	if pod.HostNetwork {
		return nil
	}
	if err := r.net.tearDown(ctx, pod.UID, pod.HostPorts); err != nil {
		return err
	}
	return deleteNetNS(ctx, netnsName(pod.UID))
}

// Sandboxes implements runtime.Runtime: the pods holding an address of the node's pod
// CIDR, as the host-local IPAM's leases record them.
func (r *Runtime) Sandboxes(context.Context) ([]types.UID, error) {
	return leaseHolders(filepath.Join(r.net.stateDir, "cni"))
}

// StartContainer implements runtime.Runtime.
func (r *Runtime) StartContainer(ctx context.Context, pod runtime.PodRef, spec runtime.ContainerSpec) (string, error) {
	ref, err := normalize(spec.Image)
	if err != nil {
		return "", fmt.Errorf("%w: %w", runtime.ErrCreateContainer, err)
	}
	img, err := r.client.GetImage(ctx, ref)
	if err != nil {
		return "", fmt.Errorf("%w: %w", runtime.ErrCreateContainer, err)
	}
	imgSpec, err := img.Spec(ctx)
	if err != nil {
		return "", fmt.Errorf("%w: reading the config of %s: %w", runtime.ErrCreateContainer, ref, err)
	}
	argv := commandLine(imgSpec.Config.Entrypoint, imgSpec.Config.Cmd, spec.Command, spec.Args)
	if len(argv) == 0 {
		return "", fmt.Errorf("%w: no command given and image %s has no entrypoint or cmd", runtime.ErrCreateContainer, spec.Image)
	}
	env := make([]string, 0, len(spec.Env))
	for _, e := range spec.Env {
		env = append(env, e.Name+"="+e.Value)
	}
	network := []oci.SpecOpts{oci.WithHostname(spec.Hostname), oci.WithLinuxNamespace(specs.LinuxNamespace{Type: specs.NetworkNamespace, Path: netnsPath(pod.UID)})}
	if pod.HostNetwork {
		network = []oci.SpecOpts{oci.WithHostNamespace(specs.NetworkNamespace), oci.WithHostNamespace(specs.UTSNamespace), oci.WithHostHostsFile}
	}
	specOpts := append([]oci.SpecOpts{oci.WithImageConfig(img), oci.WithProcessArgs(argv...), oci.WithEnv(env)}, network...)
	specOpts = append(specOpts,
		// The container's own cgroups, read-only, where it reads its limits, as under the kubelet.
		oci.WithMounts([]specs.Mount{{Destination: "/sys/fs/cgroup", Type: "cgroup", Source: "cgroup", Options: []string{"nosuid", "noexec", "nodev", "relatime", "ro"}}}))
	if spec.WorkingDir != "" {
		specOpts = append(specOpts, oci.WithProcessCwd(spec.WorkingDir))
	}
	if len(spec.Mounts) > 0 {
		specOpts = append(specOpts, oci.WithMounts(bindMounts(spec.Mounts)))
	}
	specOpts = append(specOpts, resourceOpts(spec.Resources)...)
	specOpts = append(specOpts, securityOpts(spec.Security)...)
	id := containerID(pod.UID, spec.Name, spec.Attempt)
	labels := map[string]string{labelPodUID: string(pod.UID), labelPodNamespace: pod.Namespace, labelPodName: pod.Name,
		labelName: spec.Name, labelAttempt: strconv.Itoa(int(spec.Attempt)), labelImage: spec.Image}
	c, err := r.client.NewContainer(ctx, id, containerd.WithImage(img), containerd.WithSnapshotter(snapshotter),
		containerd.WithNewSnapshot(id, img), containerd.WithNewSpec(specOpts...), containerd.WithContainerLabels(labels))
	if err != nil {
		// The snapshot is made before the spec that failed: remove it, so that a retry
		// under the same ID starts afresh.
		if rmErr := r.client.SnapshotService(snapshotter).Remove(context.WithoutCancel(ctx), id); rmErr != nil && !errdefs.IsNotFound(rmErr) {
			err = errors.Join(err, rmErr)
		}
		return "", fmt.Errorf("%w: %w", runtime.ErrCreateContainer, err)
	}
	if err := r.startTask(ctx, c, spec.LogPath); err != nil {
		// A container whose task never started is removed, so that a retry starts afresh.
		if rmErr := r.RemoveContainer(context.WithoutCancel(ctx), id); rmErr != nil {
			err = errors.Join(err, rmErr)
		}
		return "", fmt.Errorf("%w: %w", runtime.ErrCreateContainer, err)
	}
	if _, err := c.SetLabels(ctx, map[string]string{labelStartedAt: time.Now().UTC().Format(time.RFC3339Nano)}); err != nil {
		return "", err
	}
	return id, nil
}

// startTask runs c's process, its output going to logPath through the log driver.
func (r *Runtime) startTask(ctx context.Context, c containerd.Container, logPath string) error {
	// The shim runs the log driver in a directory of its own: the path must be absolute.
	logPath, err := filepath.Abs(logPath)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(logPath), 0o755); err != nil {
		return err
	}
	task, err := c.NewTask(ctx, cio.BinaryIO(r.logDriver.Path, r.logDriver.args(logPath)))
	if err != nil {
		return err
	}
	return task.Start(ctx)
}

// bindMounts turns mounts into the OCI spec's recursive, private bind mounts.
func bindMounts(mounts []runtime.Mount) []specs.Mount {
	out := make([]specs.Mount, 0, len(mounts))
	for _, m := range mounts {
		opts := []string{"rbind", "rprivate", "rw"}
		if m.ReadOnly {
			opts[2] = "ro"
		}
		out = append(out, specs.Mount{Destination: m.Destination, Type: "bind", Source: m.Source, Options: opts})
	}
	return out
}

// commandLine applies upstream's rules: command replaces the image's entrypoint and drops
// its cmd; args replace the cmd.
func commandLine(entrypoint, cmd, command, args []string) []string {
	switch {
	case len(command) > 0:
		return append(append([]string{}, command...), args...)
	case len(args) > 0:
		return append(append([]string{}, entrypoint...), args...)
	default:
		return append(append([]string{}, entrypoint...), cmd...)
	}
}

// containerID is unique per pod, container name and attempt, and always 64 characters, so
// that every valid container name fits containerd's 76-character identifiers at any restart
// count. Nothing parses it: containers are found by their labels.
func containerID(uid types.UID, name string, attempt int32) string {
	sum := sha256.Sum256([]byte(fmt.Sprintf("%s/%s/%d", uid, name, attempt)))
	return hex.EncodeToString(sum[:])
}

// StopContainer implements runtime.Runtime.
func (r *Runtime) StopContainer(ctx context.Context, id string, grace time.Duration) error {
	c, err := r.client.LoadContainer(ctx, id)
	if errdefs.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	task, err := c.Task(ctx, nil)
	if errdefs.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	exited, err := task.Wait(ctx)
	if err != nil {
		return err
	}
	if err := task.Kill(ctx, syscall.SIGTERM); err != nil && !errdefs.IsNotFound(err) {
		return err
	}
	timer := time.NewTimer(grace)
	defer timer.Stop()
	select {
	case <-exited:
		return nil
	case <-timer.C:
	case <-ctx.Done():
		return ctx.Err()
	}
	if err := task.Kill(ctx, syscall.SIGKILL); err != nil && !errdefs.IsNotFound(err) {
		return err
	}
	select {
	case <-exited:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// RemoveContainer implements runtime.Runtime.
func (r *Runtime) RemoveContainer(ctx context.Context, id string) error {
	c, err := r.client.LoadContainer(ctx, id)
	if errdefs.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if task, err := c.Task(ctx, nil); err == nil {
		if _, err := task.Delete(ctx, containerd.WithProcessKill); err != nil && !errdefs.IsNotFound(err) {
			return err
		}
	} else if !errdefs.IsNotFound(err) {
		return err
	}
	if err := c.Delete(ctx, containerd.WithSnapshotCleanup); err != nil && !errdefs.IsNotFound(err) {
		return err
	}
	return nil
}

// Containers implements runtime.Runtime.
func (r *Runtime) Containers(ctx context.Context) ([]runtime.Container, error) {
	return r.list(ctx, allContainers)
}

// allContainers is the containerd filter of every container the agent made.
var allContainers = fmt.Sprintf("labels.%q", labelPodUID)

// PodContainers implements runtime.Runtime.
func (r *Runtime) PodContainers(ctx context.Context, pod types.UID) ([]runtime.Container, error) {
	return r.list(ctx, fmt.Sprintf("labels.%q==%q", labelPodUID, pod))
}

// list describes the containers that match a containerd filter.
func (r *Runtime) list(ctx context.Context, filter string) ([]runtime.Container, error) {
	var out []runtime.Container
	err := r.each(ctx, filter, func(_ containerd.Container, rc runtime.Container) error {
		out = append(out, rc)
		return nil
	})
	return out, err
}

// each calls fn with every container that matches a containerd filter and its
// description; a container removed before it is described is skipped. The first error
// stops it.
func (r *Runtime) each(ctx context.Context, filter string, fn func(containerd.Container, runtime.Container) error) error {
	cs, err := r.client.Containers(ctx, filter)
	if err != nil {
		return err
	}
	for _, c := range cs {
		rc, err := r.describe(ctx, c)
		if errdefs.IsNotFound(err) {
			continue
		}
		if err != nil {
			return err
		}
		if err := fn(c, rc); err != nil {
			return err
		}
	}
	return nil
}

// describe reads one container's identity from its labels and its state from its task.
func (r *Runtime) describe(ctx context.Context, c containerd.Container) (runtime.Container, error) {
	info, err := c.Info(ctx, containerd.WithoutRefreshedMetadata)
	if err != nil {
		return runtime.Container{}, err
	}
	l := info.Labels
	attempt, _ := strconv.Atoi(l[labelAttempt])
	rc := runtime.Container{ID: c.ID(), Pod: runtime.PodRef{UID: types.UID(l[labelPodUID]), Namespace: l[labelPodNamespace], Name: l[labelPodName]},
		Name: l[labelName], Attempt: int32(attempt), Image: l[labelImage], CreatedAt: info.CreatedAt, State: runtime.StateCreated}
	if img, err := c.Image(ctx); err == nil {
		rc.ImageID = img.Target().Digest.String()
	}
	if t, err := time.Parse(time.RFC3339Nano, l[labelStartedAt]); err == nil {
		rc.StartedAt = t
	}
	task, err := c.Task(ctx, nil)
	if errdefs.IsNotFound(err) {
		return rc, nil
	}
	if err != nil {
		return rc, err
	}
	st, err := task.Status(ctx)
	if err != nil {
		return rc, err
	}
	switch st.Status {
	case containerd.Running, containerd.Paused, containerd.Pausing:
		rc.State = runtime.StateRunning
	case containerd.Stopped:
		rc.State, rc.ExitCode, rc.FinishedAt = runtime.StateExited, int32(st.ExitStatus), st.ExitTime
		rc.Reason = "Completed"
		switch {
		case l[labelOOMKilled] == "true" || (st.ExitStatus == 128+uint32(syscall.SIGKILL) && killedForMemory(ctx, c)):
			rc.Reason = "OOMKilled"
		case st.ExitStatus != 0:
			rc.Reason = "Error"
		}
	}
	return rc, nil
}
