// Package simulated is a container runtime without processes: containers start after a
// configurable latency, then run and exit as their command implies, and use the CPU their
// command declares (usage.go). It lets one machine run hundreds of nodes for scale tests
// and benchmarks, and autoscaling be tested without load.
package simulated

import (
	"context"
	"fmt"
	"math"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"

	"github.com/kybern/kybern/node-agent/runtime"
)

// Runtime is the simulated runtime of one node. Every image is present. A container's
// state is computed from the clock when it is read, so a fake clock drives it exactly.
type Runtime struct {
	clock clock.PassiveClock
	// startLatency is how long a container takes from StartContainer to running.
	startLatency time.Duration

	mu         sync.Mutex
	next       int
	containers map[string]*container
	// sandboxes are the pods' addresses, from podCIDR.
	sandboxes map[types.UID]netip.Addr
	podCIDR   netip.Prefix
	// removedCPU is the CPU time of the containers removed, which the node's usage keeps.
	removedCPU uint64
}

type container struct {
	runtime.Container
	// behaviour is what the command does once running, from runningAt on.
	behaviour behaviour
	runningAt time.Time
	// burn is the CPU the command declares it uses.
	burn burn
}

// New returns an empty runtime whose containers start after startLatency on clk.
func New(clk clock.PassiveClock, startLatency time.Duration) *Runtime {
	return &Runtime{clock: clk, startLatency: startLatency, containers: map[string]*container{}, sandboxes: map[types.UID]netip.Addr{}}
}

var _ runtime.Runtime = (*Runtime)(nil)

// Version implements runtime.Runtime.
func (r *Runtime) Version(context.Context) (string, error) { return "simulated://1.0", nil }

// EnsureImage implements runtime.Runtime: every image is present, with an ID derived
// from its name.
func (r *Runtime) EnsureImage(_ context.Context, image string, _ corev1.PullPolicy, _ func()) (runtime.Image, error) {
	return runtime.Image{ID: "simulated://" + image}, nil
}

// SetPodCIDR implements runtime.Runtime.
func (r *Runtime) SetPodCIDR(_ context.Context, cidr string) error {
	prefix, err := netip.ParsePrefix(cidr)
	if err != nil || !prefix.Addr().Is4() {
		return fmt.Errorf("pod CIDR %q: want an IPv4 prefix", cidr)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.podCIDR = prefix.Masked()
	return nil
}

// StartSandbox implements runtime.Runtime: the pod gets the lowest free address of the
// pod CIDR after the gateway's (the CIDR's first).
func (r *Runtime) StartSandbox(_ context.Context, pod runtime.PodRef) ([]string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if ip, ok := r.sandboxes[pod.UID]; ok {
		return []string{ip.String()}, nil
	}
	if !r.podCIDR.IsValid() {
		return nil, fmt.Errorf("pod %s/%s: the node has no pod CIDR yet", pod.Namespace, pod.Name)
	}
	used := map[netip.Addr]bool{}
	for _, ip := range r.sandboxes {
		used[ip] = true
	}
	for ip := r.podCIDR.Addr().Next().Next(); r.podCIDR.Contains(ip.Next()); ip = ip.Next() {
		if !used[ip] {
			r.sandboxes[pod.UID] = ip
			return []string{ip.String()}, nil
		}
	}
	return nil, fmt.Errorf("pod %s/%s: no free address left in %s", pod.Namespace, pod.Name, r.podCIDR)
}

// StopSandbox implements runtime.Runtime.
func (r *Runtime) StopSandbox(_ context.Context, pod runtime.PodRef) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.sandboxes, pod.UID)
	return nil
}

// Sandboxes implements runtime.Runtime.
func (r *Runtime) Sandboxes(context.Context) ([]types.UID, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]types.UID, 0, len(r.sandboxes))
	for uid := range r.sandboxes {
		out = append(out, uid)
	}
	return out, nil
}

// StartContainer implements runtime.Runtime. The container runs after the start
// latency; its command decides how long it runs and its exit code (see plan), and the CPU
// it uses (see burnPlan).
func (r *Runtime) StartContainer(_ context.Context, pod runtime.PodRef, spec runtime.ContainerSpec) (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.sandboxes[pod.UID]; !ok {
		return "", fmt.Errorf("%w: pod %s/%s has no sandbox", runtime.ErrCreateContainer, pod.Namespace, pod.Name)
	}
	// The simulated image runs as root unless runAsUser says otherwise.
	if spec.Security.RunAsNonRoot && (spec.Security.RunAsUser == nil || *spec.Security.RunAsUser == 0) {
		return "", fmt.Errorf("%w: %w", runtime.ErrCreateContainer, runtime.ErrRunAsRoot)
	}
	r.next++
	id := fmt.Sprintf("sim-%d", r.next)
	now := r.clock.Now()
	argv := append(append([]string{}, spec.Command...), spec.Args...)
	p := plan(argv)
	if err := writeLog(spec.LogPath, now, p.output); err != nil {
		return "", fmt.Errorf("%w: %s: %w", runtime.ErrCreateContainer, spec.Name, err)
	}
	r.containers[id] = &container{Container: runtime.Container{ID: id, Pod: pod, Name: spec.Name, Attempt: spec.Attempt, Image: spec.Image,
		ImageID: spec.ImageID, State: runtime.StateCreated, CreatedAt: now}, behaviour: p, runningAt: now.Add(r.startLatency), burn: burnPlan(argv)}
	return id, nil
}

// advance brings c's state up to now: running once the start latency has passed, exited
// once its command has run its course. Callers hold mu.
func (r *Runtime) advance(c *container) {
	now := r.clock.Now()
	if c.State == runtime.StateCreated && !now.Before(c.runningAt) {
		c.State, c.StartedAt = runtime.StateRunning, c.runningAt
	}
	if c.State == runtime.StateRunning && !c.behaviour.forever {
		if end := c.runningAt.Add(c.behaviour.runFor); !now.Before(end) {
			finish(c, c.behaviour.exitCode, end)
		}
	}
}

// finish records c's exit at t.
func finish(c *container, code int32, t time.Time) {
	c.State, c.ExitCode, c.FinishedAt = runtime.StateExited, code, t
	c.Reason = "Completed"
	if code != 0 {
		c.Reason = "Error"
	}
}

// StopContainer implements runtime.Runtime: a simulated process exits on SIGTERM at
// once, with 143 as a shell reports it.
func (r *Runtime) StopContainer(_ context.Context, id string, _ time.Duration) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if c, ok := r.containers[id]; ok {
		r.advance(c)
		if c.State != runtime.StateExited {
			finish(c, 143, r.clock.Now())
		}
	}
	return nil
}

// RemoveContainer implements runtime.Runtime.
func (r *Runtime) RemoveContainer(_ context.Context, id string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if c, ok := r.containers[id]; ok {
		r.removedCPU += r.cpuUsed(c)
		delete(r.containers, id)
	}
	return nil
}

// Containers implements runtime.Runtime.
func (r *Runtime) Containers(context.Context) ([]runtime.Container, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]runtime.Container, 0, len(r.containers))
	for _, c := range r.containers {
		r.advance(c)
		out = append(out, c.Container)
	}
	return out, nil
}

// PodContainers implements runtime.Runtime.
func (r *Runtime) PodContainers(_ context.Context, pod types.UID) ([]runtime.Container, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []runtime.Container
	for _, c := range r.containers {
		if c.Pod.UID == pod {
			r.advance(c)
			out = append(out, c.Container)
		}
	}
	return out, nil
}

// behaviour is what a simulated process does.
type behaviour struct {
	forever  bool
	runFor   time.Duration
	exitCode int32
	output   []string
}

// plan reads a command line the way the test images use it: "true", "false",
// "sleep N", "echo …", "exit N", and "sh -c" scripts of those joined by ";" or "&&".
// Anything else, and no command at all (the image's own entrypoint), runs until stopped.
func plan(argv []string) behaviour {
	if len(argv) == 0 {
		return behaviour{forever: true}
	}
	if len(argv) >= 3 && filepath.Base(argv[0]) == "sh" && argv[1] == "-c" {
		return script(argv[2])
	}
	return script(strings.Join(argv, " "))
}

func script(s string) behaviour {
	var b behaviour
	for _, stmt := range strings.FieldsFunc(strings.ReplaceAll(s, "&&", ";"), func(r rune) bool { return r == ';' || r == '\n' }) {
		f := strings.Fields(stmt)
		if len(f) == 0 {
			continue
		}
		switch filepath.Base(f[0]) {
		case "true", ":":
			b.exitCode = 0
		case "false":
			b.exitCode = 1
			return b
		case "echo":
			b.output = append(b.output, strings.Join(f[1:], " "))
		case "sleep":
			if len(f) < 2 {
				return behaviour{forever: true}
			}
			secs, err := strconv.ParseFloat(f[1], 64)
			if err != nil || secs < 0 || secs > math.MaxInt64/float64(time.Second) || math.IsNaN(secs) {
				return behaviour{forever: true}
			}
			b.runFor += time.Duration(secs * float64(time.Second))
		case "exit":
			if len(f) > 1 {
				code, err := strconv.Atoi(f[1])
				if err == nil {
					b.exitCode = int32(code)
				}
			}
			return b
		default:
			return behaviour{forever: true, output: b.output}
		}
	}
	return b
}

// writeLog appends lines to path in the kubelet's log line format, as a process's stdout.
func writeLog(path string, at time.Time, lines []string) error {
	if path == "" {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	for _, l := range lines {
		if _, err := fmt.Fprintf(f, "%s stdout F %s\n", at.UTC().Format(time.RFC3339Nano), l); err != nil {
			f.Close()
			return err
		}
	}
	return f.Close()
}

// Exec implements runtime.Runtime: simulated containers have no processes to attach to.
func (r *Runtime) Exec(_ context.Context, id string, _ []string, _ runtime.Streams) (int, error) {
	return 0, fmt.Errorf("container %s is simulated: it runs no processes to exec in", id)
}

// ExecSync implements runtime.Runtime: the command is planned as a container's would be,
// and a command that would run past timeout times out.
func (r *Runtime) ExecSync(_ context.Context, id string, cmd []string, timeout time.Duration) (runtime.ExecResult, error) {
	r.mu.Lock()
	c, ok := r.containers[id]
	if ok {
		r.advance(c)
		ok = c.State == runtime.StateRunning
	}
	r.mu.Unlock()
	if !ok {
		return runtime.ExecResult{}, fmt.Errorf("container %s is not running", id)
	}
	b := plan(cmd)
	if b.forever || b.runFor > timeout {
		return runtime.ExecResult{TimedOut: true}, nil
	}
	return runtime.ExecResult{ExitCode: b.exitCode, Output: strings.Join(b.output, "\n")}, nil
}

// DialContext implements runtime.Runtime: simulated pods have no network, so every
// connection is refused and network probes fail.
func (r *Runtime) DialContext(_ context.Context, pod runtime.PodRef, network, address string) (net.Conn, error) {
	return nil, &net.OpError{Op: "dial", Net: network, Err: fmt.Errorf("connect: connection refused (simulated pod %s/%s has no network)", pod.Namespace, pod.Name)}
}
