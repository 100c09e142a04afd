// Package runtime is the node agent's view of a container runtime: the few operations the
// pod workers need, with the contract each implementation keeps. Two implement it:
// containerd (real processes) and simulated (no processes, for scale tests).
package runtime

import (
	"context"
	"errors"
	"io"
	"net"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
)

// Runtime runs the containers of the pods bound to one node. Every method may be called
// from many pod workers at once. Containers are identified by ID; each carries the pod UID,
// container name and attempt it was created for, so that an agent that restarts finds its
// containers again through Containers and adopts them.
type Runtime interface {
	// Version is what Node.status.nodeInfo.containerRuntimeVersion reports, such as
	// "containerd://1.6.20".
	Version(ctx context.Context) (string, error)

	// EnsureImage makes image present as policy asks (Always pulls, IfNotPresent pulls
	// when absent, Never fails with ErrImageNeverPull when absent) and says what it did.
	// It calls pulling, when not nil, just before a pull starts. A failed pull returns an
	// *ImagePullError carrying the registry's message.
	EnsureImage(ctx context.Context, image string, policy corev1.PullPolicy, pulling func()) (Image, error)

	// SetPodCIDR gives the runtime the node's pod CIDR, which pod addresses come from;
	// sandboxes cannot start before it.
	SetPodCIDR(ctx context.Context, cidr string) error

	// StartSandbox creates the pod's shared environment (its network namespace with an
	// address) if it does not exist, and returns the pod's IPs. It is idempotent.
	StartSandbox(ctx context.Context, pod PodRef) ([]string, error)

	// StartContainer creates and starts one container in pod's sandbox and returns its ID.
	// A container that cannot be created returns an error wrapping ErrCreateContainer.
	StartContainer(ctx context.Context, pod PodRef, spec ContainerSpec) (id string, err error)

	// StopContainer sends SIGTERM, waits up to grace for the container to exit, then sends
	// SIGKILL and waits for it. Stopping a container that is not running is no error.
	StopContainer(ctx context.Context, id string, grace time.Duration) error

	// RemoveContainer deletes a stopped container and what it holds. Removing a container
	// that does not exist is no error.
	RemoveContainer(ctx context.Context, id string) error

	// StopSandbox removes the pod's sandbox, releasing its address, once its containers
	// are removed; idempotent.
	StopSandbox(ctx context.Context, pod PodRef) error
	// Sandboxes are the pods that hold a sandbox (a network address), whether or not any
	// container of theirs exists: an agent that stopped between a sandbox and its first
	// container, or between its last container and the sandbox, left one to reclaim.
	Sandboxes(ctx context.Context) ([]types.UID, error)

	// Containers lists every container of this node, running or not.
	Containers(ctx context.Context) ([]Container, error)

	// PodContainers lists the containers of one pod, running or not.
	PodContainers(ctx context.Context, pod types.UID) ([]Container, error)

	// ExecSync runs cmd inside the running container id, as an exec probe does, and waits
	// up to timeout for it to exit; a command still running then is killed and reported
	// with TimedOut.
	ExecSync(ctx context.Context, id string, cmd []string, timeout time.Duration) (ExecResult, error)

	// Exec runs cmd inside the running container id with streams attached, as kubectl
	// exec does, until it exits or ctx ends; it returns the command's exit code. A command
	// that could not start is an error.
	Exec(ctx context.Context, id string, cmd []string, streams Streams) (exitCode int, err error)

	// DialContext connects to address from inside pod's network namespace, as a network
	// probe does.
	DialContext(ctx context.Context, pod PodRef, network, address string) (net.Conn, error)

	// ContainerStats measures every running container of this node once, for the node's
	// /metrics/resource and /stats/summary. Containers that are not running are left out,
	// and so is one that exits while it is measured: that is no error. CPU usage is
	// cumulative since the container started, so that two calls give a rate.
	ContainerStats(ctx context.Context) ([]ContainerStats, error)
}

// Image is what EnsureImage made present.
type Image struct {
	ID string
	// Pull is set when EnsureImage pulled the image, rather than finding it present.
	Pull *Pull
}

// Pull is what pulling an image took.
type Pull struct {
	Duration time.Duration
	// Size is the bytes the image's content takes in the runtime's store.
	Size int64
}

// ContainerStats is one measurement of a running container's usage.
type ContainerStats struct {
	ID string
	// Pod has only the names (UID, namespace and name).
	Pod PodRef
	// Name is the container's name in its pod.
	Name      string
	StartedAt time.Time
	// Timestamp is when the usage was measured.
	Timestamp time.Time
	// CPUUsageNanoseconds is the CPU time the container has used since it started, summed
	// over all cores: a container busy on 2 cores for 1s has used 2e9.
	CPUUsageNanoseconds uint64
	// MemoryWorkingSetBytes is the memory the container uses less what the kernel may
	// reclaim at once (inactive file pages), as the kubelet's working set.
	MemoryWorkingSetBytes uint64
}

// Streams are what an interactive process is attached to. Stdin may be nil (no input);
// Stderr is unused under a terminal, whose output is all Stdout.
type Streams struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	TTY            bool
	// Resize delivers the terminal's size, first and whenever it changes; nil for none.
	Resize <-chan TerminalSize
}

// TerminalSize is a terminal's width and height in characters.
type TerminalSize struct {
	Width, Height uint16
}

// ExecResult is how a command run by ExecSync ended.
type ExecResult struct {
	ExitCode int32
	// Output is the command's stdout and stderr, cut at 10 KiB.
	Output   string
	TimedOut bool
}

// PodRef names the pod a sandbox or container belongs to, with what its sandbox needs.
// A PodRef read back from the runtime (Container.Pod) has only the names.
type PodRef struct {
	UID       types.UID
	Namespace string
	Name      string
	// HostNetwork runs the pod in the host's network and UTS namespaces: it has the
	// host's addresses and name, and no sandbox network of its own.
	HostNetwork bool
	// HostPorts are the container ports published on the node, as hostPort asks.
	HostPorts []HostPort
}

// HostPort publishes a container port on the node.
type HostPort struct {
	HostPort, ContainerPort int32
	// Protocol is "tcp", "udp" or "sctp".
	Protocol string
	// HostIP is the node address to publish on; empty means all of them.
	HostIP string
}

// ContainerSpec is what a container is started with, resolved from the pod spec.
type ContainerSpec struct {
	Name       string
	Attempt    int32
	Image      string
	ImageID    string
	Command    []string
	Args       []string
	WorkingDir string
	Env        []corev1.EnvVar
	// Hostname is the host name the container sees.
	Hostname string
	// LogPath is the file the container's stdout and stderr go to, in the kubelet's
	// line format.
	LogPath   string
	Mounts    []Mount
	Resources Resources
	Security  Security
}

// Resources are a container's cgroup settings, as upstream's kubelet derives them from
// requests and limits. Zero values leave the runtime's defaults.
type Resources struct {
	CPUShares uint64
	// CPUQuota is the CPU time the container may use per CPUPeriod, both in microseconds.
	CPUQuota    int64
	CPUPeriod   uint64
	MemoryLimit int64
	// OOMScoreAdj makes the kernel kill the pods of lower QoS classes first.
	OOMScoreAdj int
}

// Security is what a container runs as.
type Security struct {
	RunAsUser, RunAsGroup *int64
	// RunAsNonRoot refuses to create the container, with ErrRunAsRoot, if it would run as
	// user 0.
	RunAsNonRoot bool
	// SupplementalGroups are added to the process's groups, after the image's.
	SupplementalGroups []int64
	// SeccompRuntimeDefault applies the runtime's default seccomp profile; without it the
	// container is unconfined, as under the kubelet.
	SeccompRuntimeDefault bool
	ReadOnlyRootFS        bool
	Privileged            bool
	// AddCapabilities and DropCapabilities are capability names without the CAP_ prefix,
	// as a securityContext states them; "ALL" drops every one.
	AddCapabilities, DropCapabilities []string
}

// Mount bind-mounts a host file or directory into a container.
type Mount struct {
	Source      string
	Destination string
	ReadOnly    bool
}

// State is where a container is in its life.
type State string

const (
	StateCreated State = "created"
	StateRunning State = "running"
	StateExited  State = "exited"
)

// Container is what the runtime knows of one container.
type Container struct {
	ID      string
	Pod     PodRef
	Name    string
	Attempt int32
	Image   string
	ImageID string
	State   State
	// ExitCode and Reason describe an exited container; Reason is "Completed", "Error" or
	// "OOMKilled", as upstream's kubelet reports them.
	ExitCode   int32
	Reason     string
	Message    string
	CreatedAt  time.Time
	StartedAt  time.Time
	FinishedAt time.Time
}

var (
	// ErrImageNeverPull is returned for an absent image whose pull policy is Never.
	ErrImageNeverPull = errors.New("image is not present and the pull policy is Never")
	// ErrCreateContainer marks a container the runtime could not create or start.
	ErrCreateContainer = errors.New("cannot create container")
	// ErrRunAsRoot is a container with RunAsNonRoot whose user, once the image's is
	// resolved, is root.
	ErrRunAsRoot = errors.New("container has runAsNonRoot and image will run as root")
)

// ImagePullError is a failed pull, with the registry's message.
type ImagePullError struct {
	Image   string
	Message string
}

func (e *ImagePullError) Error() string {
	return "failed to pull image \"" + e.Image + "\": " + e.Message
}
