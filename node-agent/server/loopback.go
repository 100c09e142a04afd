package server

import (
	"context"
	"net"
	"net/http"
	"sync"
)

// loopback is an in-process listener: connections dialled through its transport are
// accepted by the server that serves it, and reach nothing else.
type loopback struct {
	conns     chan net.Conn
	done      chan struct{}
	closeOnce sync.Once
}

func newLoopback() *loopback {
	return &loopback{conns: make(chan net.Conn), done: make(chan struct{})}
}

func (l *loopback) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *loopback) Close() error {
	l.closeOnce.Do(func() { close(l.done) })
	return nil
}

func (l *loopback) Addr() net.Addr { return loopbackAddr{} }

func (l *loopback) dial(ctx context.Context, _, _ string) (net.Conn, error) {
	client, server := net.Pipe()
	select {
	case l.conns <- server:
		return client, nil
	case <-l.done:
		return nil, net.ErrClosed
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// transport dials only this listener.
func (l *loopback) transport() *http.Transport {
	return &http.Transport{DialContext: l.dial}
}

type loopbackAddr struct{}

func (loopbackAddr) Network() string { return "pipe" }
func (loopbackAddr) String() string  { return "node-agent.internal" }
