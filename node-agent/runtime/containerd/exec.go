package containerd

import (
	"context"
	"fmt"
	"net"
	"os"
	goruntime "runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	containerd "github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/pkg/cio"
	"golang.org/x/sys/unix"

	"github.com/kybern/kybern/node-agent/runtime"
)

// maxExecOutput is how much of an exec's output ExecSync keeps, as upstream's probes.
const maxExecOutput = 10 << 10

// execs numbers exec processes, whose IDs must be unique within a container.
var execs atomic.Uint64

// ExecSync implements runtime.Runtime: cmd runs as a process of the container's task, with
// the container's environment, user and working directory.
func (r *Runtime) ExecSync(ctx context.Context, id string, cmd []string, timeout time.Duration) (runtime.ExecResult, error) {
	c, err := r.client.LoadContainer(ctx, id)
	if err != nil {
		return runtime.ExecResult{}, err
	}
	spec, err := c.Spec(ctx)
	if err != nil {
		return runtime.ExecResult{}, err
	}
	task, err := c.Task(ctx, nil)
	if err != nil {
		return runtime.ExecResult{}, err
	}
	proc := *spec.Process
	proc.Args, proc.Terminal = cmd, false
	out := &cappedBuffer{}
	execID := "exec-" + strconv.FormatUint(execs.Add(1), 10)
	process, err := task.Exec(ctx, execID, &proc, cio.NewCreator(cio.WithStreams(nil, out, out)))
	if err != nil {
		return runtime.ExecResult{}, fmt.Errorf("exec in %s: %w", id, err)
	}
	defer func() { _, _ = process.Delete(context.WithoutCancel(ctx), containerd.WithProcessKill) }()
	exited, err := process.Wait(ctx)
	if err != nil {
		return runtime.ExecResult{}, err
	}
	if err := process.Start(ctx); err != nil {
		return runtime.ExecResult{}, fmt.Errorf("exec in %s: %w", id, err)
	}
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case status := <-exited:
		process.IO().Wait()
		return runtime.ExecResult{ExitCode: int32(status.ExitCode()), Output: out.String()}, nil
	case <-timer.C:
		_ = process.Kill(ctx, syscall.SIGKILL)
		<-exited
		return runtime.ExecResult{TimedOut: true, Output: out.String()}, nil
	case <-ctx.Done():
		return runtime.ExecResult{}, ctx.Err()
	}
}

// cappedBuffer keeps the first maxExecOutput bytes written to it, from both of a
// process's streams.
type cappedBuffer struct {
	mu  sync.Mutex
	buf []byte
}

func (b *cappedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if room := maxExecOutput - len(b.buf); room > 0 {
		b.buf = append(b.buf, p[:min(room, len(p))]...)
	}
	return len(p), nil
}

func (b *cappedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.buf)
}

// DialContext implements runtime.Runtime. The socket is made on an OS thread that enters
// the pod's network namespace for the dial; a socket keeps the namespace it was made in. A
// pod on the host's network is dialled from the host.
func (r *Runtime) DialContext(ctx context.Context, pod runtime.PodRef, network, address string) (net.Conn, error) {
	if pod.HostNetwork {
		var d net.Dialer
		return d.DialContext(ctx, network, address)
	}
	type dialed struct {
		conn net.Conn
		err  error
	}
	done := make(chan dialed, 1)
	go func() {
		goruntime.LockOSThread()
		conn, restored, err := dialIn(ctx, netnsPath(pod.UID), network, address)
		if restored {
			goruntime.UnlockOSThread()
		}
		// A thread that could not go back to the host's namespace stays locked, so it ends
		// with this goroutine instead of running others in the pod's namespace.
		done <- dialed{conn, err}
	}()
	d := <-done
	return d.conn, d.err
}

// dialIn dials from the network namespace at path on the calling, locked thread; restored
// says whether the thread is back in its own namespace.
func dialIn(ctx context.Context, path, network, address string) (conn net.Conn, restored bool, err error) {
	own, err := os.Open("/proc/thread-self/ns/net")
	if err != nil {
		return nil, true, err
	}
	defer own.Close()
	target, err := os.Open(path)
	if err != nil {
		return nil, true, fmt.Errorf("the pod's network namespace: %w", err)
	}
	defer target.Close()
	if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
		return nil, true, fmt.Errorf("entering the pod's network namespace: %w", err)
	}
	var d net.Dialer
	conn, err = d.DialContext(ctx, network, address)
	if setErr := unix.Setns(int(own.Fd()), unix.CLONE_NEWNET); setErr != nil {
		return conn, false, err
	}
	return conn, true, err
}
