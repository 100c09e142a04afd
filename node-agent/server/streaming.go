package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"k8s.io/apiserver/pkg/util/proxy"
	"k8s.io/cri-streaming/pkg/streaming/portforward"
	"k8s.io/cri-streaming/pkg/streaming/remotecommand"
	"k8s.io/streaming/pkg/httpstream/wsstream"
	utilexec "k8s.io/utils/exec"

	"github.com/kybern/kybern/node-agent/runtime"
)

// Websocket subprotocols that are translated rather than served directly.
const (
	execWebsocketV5 = "v5.channel.k8s.io"
	// spdyTunnelPrefix marks SPDY tunnelled over websocket, client-go's port-forward.
	spdyTunnelPrefix = "SPDY/3.1+"
)

// exec serves /exec/<namespace>/<pod>[/<uid>]/<container>?command=…&input=1&output=1
// &error=1&tty=1, the kubelet's query: the command runs in the container's running
// instance.
func (s *Server) exec(w http.ResponseWriter, r *http.Request) {
	pod, err := s.pod(r)
	if err != nil {
		s.fail(w, err)
		return
	}
	name := r.PathValue("container")
	c, err := s.running(r.Context(), pod, name)
	if err != nil {
		s.fail(w, err)
		return
	}
	cmd := r.URL.Query()["command"]
	if len(cmd) == 0 {
		s.fail(w, badRequest("you must specify at least one command for the container"))
		return
	}
	opts, err := remotecommand.NewOptions(r)
	if err != nil {
		s.fail(w, badRequest("%v", err))
		return
	}
	if offers(r, func(p string) bool { return p == execWebsocketV5 }) {
		target := &url.URL{Scheme: "http", Host: "node-agent.internal", Path: "/exec/" + url.PathEscape(c.ID), RawQuery: r.URL.RawQuery}
		translator := proxy.NewStreamTranslatorHandler(target, s.loop.transport(), 0,
			proxy.Options{Stdin: opts.Stdin, Stdout: opts.Stdout, Stderr: opts.Stderr, Tty: opts.TTY})
		translator.ServeHTTP(w, r)
		return
	}
	remotecommand.ServeExec(w, r, executor{rt: s.Runtime, id: c.ID}, pod.Name, string(pod.UID), name, cmd, opts,
		idleTimeout, streamCreationTimeout, remotecommand.SupportedStreamingProtocols)
}

// portForward serves /portForward/<namespace>/<pod>[/<uid>]: each stream the client opens
// connects to a port on the pod's localhost.
func (s *Server) portForward(w http.ResponseWriter, r *http.Request) {
	pod, err := s.pod(r)
	if err != nil {
		s.fail(w, err)
		return
	}
	fwd := forwarder{rt: s.Runtime, pod: runtime.PodRef{UID: pod.UID, Namespace: pod.Namespace, Name: pod.Name, HostNetwork: pod.Spec.HostNetwork}}
	serve := func(w http.ResponseWriter, r *http.Request) {
		var opts *portforward.V4Options
		if wsstream.IsWebSocketRequest(r) {
			if opts, err = portforward.NewV4Options(r); err != nil {
				s.fail(w, badRequest("%v", err))
				return
			}
		}
		portforward.ServePortForward(w, r, fwd, pod.Name, string(pod.UID), opts, idleTimeout, streamCreationTimeout, portforward.SupportedProtocols)
	}
	if offers(r, func(p string) bool { return strings.HasPrefix(p, spdyTunnelPrefix) }) {
		internal := fmt.Sprintf("/portForward/%s/%s/%s", url.PathEscape(pod.Namespace), url.PathEscape(pod.Name), url.PathEscape(string(pod.UID)))
		proxy.NewTunnelingHandler(s.relay(internal)).ServeHTTP(w, r)
		return
	}
	serve(w, r)
}

// relay sends a request to path on the internal server over a connection of its own and
// copies the raw bytes both ways: the response to an upgrade, then the upgraded stream,
// which is what the tunnelling handler reads from its upstream.
func (s *Server) relay(path string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		backend, err := s.loop.dial(r.Context(), "", "")
		if err != nil {
			s.fail(w, err)
			return
		}
		defer backend.Close()
		out := r.Clone(r.Context())
		out.URL = &url.URL{Path: path, RawQuery: r.URL.RawQuery}
		out.Host, out.RequestURI = "node-agent.internal", ""
		hijacker, ok := w.(http.Hijacker)
		if !ok {
			s.fail(w, errors.New("the connection cannot be taken over for streaming"))
			return
		}
		conn, _, err := hijacker.Hijack()
		if err != nil {
			s.Log.Error(err, "Taking over a tunnelled connection")
			return
		}
		defer conn.Close()
		if err := out.Write(backend); err != nil {
			return
		}
		go func() { _, _ = io.Copy(backend, conn) }()
		_, _ = io.Copy(conn, backend)
	})
}

// offers reports whether r is a websocket upgrade offering a subprotocol that match accepts.
func offers(r *http.Request, match func(string) bool) bool {
	if !wsstream.IsWebSocketRequest(r) {
		return false
	}
	for _, header := range r.Header.Values("Sec-Websocket-Protocol") {
		for _, p := range strings.Split(header, ",") {
			if match(strings.TrimSpace(p)) {
				return true
			}
		}
	}
	return false
}

// internalHandler serves the SPDY side of translated websocket requests, reachable only
// in-process through s.loop, by requests already authorised: /exec/<container ID>, with
// exec's query, and port-forward's own path.
func (s *Server) internalHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/portForward/{namespace}/{pod}/{uid}", s.portForward)
	mux.HandleFunc("POST /exec/{id}", func(w http.ResponseWriter, r *http.Request) {
		opts, err := remotecommand.NewOptions(r)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		remotecommand.ServeExec(w, r, executor{rt: s.Runtime, id: r.PathValue("id")}, "", "", "", r.URL.Query()["command"], opts,
			idleTimeout, streamCreationTimeout, remotecommand.SupportedStreamingProtocols)
	})
	return mux
}

// executor runs commands in one container.
type executor struct {
	rt runtime.Runtime
	id string
}

// ExecInContainer implements remotecommand.Executor; a non-zero exit is a CodeExitError,
// which the protocol reports as the command's exit code.
func (e executor) ExecInContainer(ctx context.Context, _, _, _ string, cmd []string, in io.Reader, out, errOut io.WriteCloser, tty bool, resize <-chan remotecommand.TerminalSize, _ time.Duration) error {
	streams := runtime.Streams{Stdin: in, TTY: tty}
	if out != nil {
		streams.Stdout = out
	}
	if errOut != nil {
		streams.Stderr = errOut
	}
	if resize != nil {
		sizes := make(chan runtime.TerminalSize)
		streams.Resize = sizes
		go func() {
			defer close(sizes)
			for size := range resize {
				select {
				case sizes <- runtime.TerminalSize{Width: size.Width, Height: size.Height}:
				case <-ctx.Done():
					return
				}
			}
		}()
	}
	code, err := e.rt.Exec(ctx, e.id, cmd, streams)
	if err != nil {
		return err
	}
	if code != 0 {
		return utilexec.CodeExitError{Err: fmt.Errorf("command terminated with non-zero exit code %d", code), Code: code}
	}
	return nil
}

// forwarder connects streams to ports of one pod.
type forwarder struct {
	rt  runtime.Runtime
	pod runtime.PodRef
}

// PortForward implements portforward.PortForwarder: it dials port on localhost from
// inside the pod's network namespace, as the kubelet does, and copies both ways until the
// pod's side ends (the client's end only half-closes the connection).
func (f forwarder) PortForward(ctx context.Context, _, _ string, port int32, stream io.ReadWriteCloser) error {
	defer stream.Close()
	if port < 1 || port > 65535 {
		return fmt.Errorf("port %d of pod %s/%s: must be 1-65535", port, f.pod.Namespace, f.pod.Name)
	}
	conn, err := f.rt.DialContext(ctx, f.pod, "tcp4", net.JoinHostPort("127.0.0.1", fmt.Sprint(port)))
	if err != nil {
		return fmt.Errorf("port %d of pod %s/%s: %w", port, f.pod.Namespace, f.pod.Name, err)
	}
	defer conn.Close()
	go func() {
		_, _ = io.Copy(conn, stream)
		if tcp, ok := conn.(*net.TCPConn); ok {
			_ = tcp.CloseWrite()
		}
	}()
	_, err = io.Copy(stream, conn)
	if errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}
