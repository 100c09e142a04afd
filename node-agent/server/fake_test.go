package server_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"

	"k8s.io/apimachinery/pkg/types"

	"github.com/kybern/kybern/node-agent/runtime"
	"github.com/kybern/kybern/node-agent/stats"
)

// fakeRuntime stands in for containerd behind the API: containers and their usage are
// what a spec puts in, exec runs a few built-in commands on the streams, and a port dials
// a listener the spec registers. It is also the node's stats.Source, with the usage the
// spec puts in.
type fakeRuntime struct {
	runtime.Runtime
	mu         sync.Mutex
	containers map[types.UID][]runtime.Container
	ports      map[int]string
	usage      []runtime.ContainerStats
	node       stats.NodeStats
}

func newFakeRuntime() *fakeRuntime {
	return &fakeRuntime{containers: map[types.UID][]runtime.Container{}, ports: map[int]string{}}
}

func (f *fakeRuntime) set(uid types.UID, containers ...runtime.Container) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.containers[uid] = containers
}

func (f *fakeRuntime) listen(port int, address string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ports[port] = address
}

// measure sets the usage ContainerStats and NodeStats report.
func (f *fakeRuntime) measure(node stats.NodeStats, containers ...runtime.ContainerStats) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.node, f.usage = node, containers
}

func (f *fakeRuntime) ContainerStats(context.Context) ([]runtime.ContainerStats, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]runtime.ContainerStats(nil), f.usage...), nil
}

func (f *fakeRuntime) NodeStats(context.Context) (stats.NodeStats, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.node, nil
}

func (f *fakeRuntime) PodContainers(_ context.Context, uid types.UID) ([]runtime.Container, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]runtime.Container(nil), f.containers[uid]...), nil
}

// Exec knows: cat (stdin to stdout), echo ARGS, fail CODE (writes to stderr, exits CODE)
// and tty (reports whether it has a terminal and the first size it was given).
func (f *fakeRuntime) Exec(_ context.Context, _ string, cmd []string, s runtime.Streams) (int, error) {
	switch cmd[0] {
	case "cat":
		_, err := io.Copy(s.Stdout, s.Stdin)
		return 0, err
	case "echo":
		_, err := fmt.Fprintln(s.Stdout, strings.Join(cmd[1:], " "))
		return 0, err
	case "fail":
		code, err := strconv.Atoi(cmd[1])
		if err != nil {
			return 0, err
		}
		_, _ = fmt.Fprintf(s.Stderr, "failing with %d\n", code)
		return code, nil
	case "tty":
		size := <-s.Resize
		_, err := fmt.Fprintf(s.Stdout, "tty=%t %dx%d\n", s.TTY, size.Width, size.Height)
		return 0, err
	}
	return 0, fmt.Errorf("%s: executable file not found", cmd[0])
}

func (f *fakeRuntime) DialContext(ctx context.Context, _ runtime.PodRef, network, address string) (net.Conn, error) {
	_, port, err := net.SplitHostPort(address)
	if err != nil {
		return nil, err
	}
	p, _ := strconv.Atoi(port)
	f.mu.Lock()
	target, ok := f.ports[p]
	f.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("dial %s %s: connection refused", network, address)
	}
	var d net.Dialer
	return d.DialContext(ctx, "tcp", target)
}
