package containerd

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"sync"

	containerd "github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/pkg/cio"

	"github.com/kybern/kybern/node-agent/runtime"
)

// Exec implements runtime.Runtime: cmd runs as a process of the container's task, with the
// container's environment, user and working directory, as ExecSync's, and its streams
// attached for as long as it runs. The process is killed when ctx ends first.
func (r *Runtime) Exec(ctx context.Context, id string, cmd []string, streams runtime.Streams) (int, error) {
	c, err := r.client.LoadContainer(ctx, id)
	if err != nil {
		return 0, err
	}
	spec, err := c.Spec(ctx)
	if err != nil {
		return 0, err
	}
	task, err := c.Task(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("container %s is not running: %w", id, err)
	}
	proc := *spec.Process
	proc.Args, proc.Terminal = cmd, streams.TTY
	var in io.Reader
	stdin := newClosingReader(streams.Stdin)
	defer stdin.start()
	if streams.Stdin != nil {
		in = stdin
	}
	opts := []cio.Opt{cio.WithStreams(in, orDiscard(streams.Stdout), orDiscard(streams.Stderr))}
	if streams.TTY {
		opts = append(opts, cio.WithTerminal)
	}
	execID := "exec-" + strconv.FormatUint(execs.Add(1), 10)
	process, err := task.Exec(ctx, execID, &proc, cio.NewCreator(opts...))
	if err != nil {
		return 0, fmt.Errorf("exec in %s: %w", id, err)
	}
	defer func() { _, _ = process.Delete(context.WithoutCancel(ctx), containerd.WithProcessKill) }()
	stdin.eof = func() { _ = process.CloseIO(context.WithoutCancel(ctx), containerd.WithStdinCloser) }
	exited, err := process.Wait(ctx)
	if err != nil {
		return 0, err
	}
	if err := process.Start(ctx); err != nil {
		return 0, fmt.Errorf("exec in %s: %w", id, err)
	}
	stdin.start()
	if streams.TTY && streams.Resize != nil {
		go func() {
			for size := range streams.Resize {
				_ = process.Resize(ctx, uint32(size.Width), uint32(size.Height))
			}
		}()
	}
	select {
	case status := <-exited:
		process.IO().Wait()
		return int(status.ExitCode()), status.Error()
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

// closingReader reads a client's stdin and, at its end, closes the process's stdin, which
// the shim otherwise holds open, so that a command reading to the end of its input ends.
// The close waits until the process has started.
type closingReader struct {
	r         io.Reader
	eof       func()
	once, run sync.Once
	up        chan struct{}
}

func newClosingReader(r io.Reader) *closingReader {
	return &closingReader{r: r, eof: func() {}, up: make(chan struct{})}
}

// start lets the close happen; eof must be set before.
func (c *closingReader) start() { c.run.Do(func() { close(c.up) }) }

func (c *closingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if err == io.EOF {
		c.once.Do(func() {
			go func() {
				<-c.up
				c.eof()
			}()
		})
	}
	return n, err
}

func orDiscard(w io.Writer) io.Writer {
	if w == nil {
		return io.Discard
	}
	return w
}
