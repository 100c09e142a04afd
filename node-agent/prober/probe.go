// Package prober runs the liveness, readiness and startup probes of a pod's containers, as
// upstream's kubelet does: exec inside the container, httpGet and tcpSocket from inside
// the pod's network namespace, each on its own period with its thresholds.
package prober

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/kybern/kybern/node-agent/runtime"
)

// Target is what probes run against: the node's container runtime.
type Target interface {
	ExecSync(ctx context.Context, id string, cmd []string, timeout time.Duration) (runtime.ExecResult, error)
	DialContext(ctx context.Context, pod runtime.PodRef, network, address string) (net.Conn, error)
}

// userAgent is what HTTP probes send, as upstream's kube-probe/<version>.
const userAgent = "kybern-probe/1.0"

// maxBody is how much of an HTTP probe's response body is read.
const maxBody = 10 << 10

// Run runs probe p of container c (running as containerID in pod) once. It fails with a
// message in upstream's words. err is set when the runtime could not run an exec probe
// at all (containerd down or restarting, the command not startable): upstream's prober
// throws such a result away rather than count it, so that an outage of the runtime
// restarts no container.
func Run(ctx context.Context, t Target, pod runtime.PodRef, containerID string, c *corev1.Container, p *corev1.Probe) (ok bool, message string, err error) {
	timeout := time.Duration(max(p.TimeoutSeconds, 1)) * time.Second
	switch {
	case p.Exec != nil:
		return runExec(ctx, t, containerID, p.Exec.Command, timeout)
	}
	ok, message = runNetwork(ctx, t, pod, c, p, timeout)
	return ok, message, nil
}

// runNetwork runs an httpGet, tcpSocket or grpc probe, whose every error is a failure.
func runNetwork(ctx context.Context, t Target, pod runtime.PodRef, c *corev1.Container, p *corev1.Probe, timeout time.Duration) (bool, string) {
	switch {
	case p.HTTPGet != nil:
		return runHTTP(ctx, t, pod, c, p.HTTPGet, timeout)
	case p.TCPSocket != nil:
		port, err := resolvePort(p.TCPSocket.Port, c)
		if err != nil {
			return false, err.Error()
		}
		ctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		conn, err := t.DialContext(ctx, pod, "tcp", net.JoinHostPort(host(p.TCPSocket.Host), strconv.Itoa(port)))
		if err != nil {
			return false, err.Error()
		}
		_ = conn.Close()
		return true, ""
	case p.GRPC != nil:
		return false, "grpc probes are not supported by kybern's node agent yet: use exec, httpGet or tcpSocket"
	}
	return false, "the probe names no handler: set exec, httpGet or tcpSocket"
}

func runExec(ctx context.Context, t Target, id string, cmd []string, timeout time.Duration) (bool, string, error) {
	res, err := t.ExecSync(ctx, id, cmd, timeout)
	switch {
	case err != nil:
		return false, err.Error(), err
	case res.TimedOut:
		return false, fmt.Sprintf("command %q timed out", strings.Join(cmd, " ")), nil
	case res.ExitCode != 0:
		return false, res.Output, nil
	}
	return true, "", nil
}

func runHTTP(ctx context.Context, t Target, pod runtime.PodRef, c *corev1.Container, g *corev1.HTTPGetAction, timeout time.Duration) (bool, string) {
	port, err := resolvePort(g.Port, c)
	if err != nil {
		return false, err.Error()
	}
	scheme := strings.ToLower(string(g.Scheme))
	if scheme == "" {
		scheme = "http"
	}
	path := g.Path
	if !strings.HasPrefix(path, "/") {
		path = "/" + path
	}
	url := fmt.Sprintf("%s://%s%s", scheme, net.JoinHostPort(host(g.Host), strconv.Itoa(port)), path)
	transport := &http.Transport{
		DialContext: func(ctx context.Context, network, address string) (net.Conn, error) {
			return t.DialContext(ctx, pod, network, address)
		},
		// As upstream: probes do not verify the serving certificate.
		TLSClientConfig:   &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // A probe checks liveness, not identity.
		DisableKeepAlives: true,
	}
	defer transport.CloseIdleConnections()
	client := &http.Client{Transport: transport, Timeout: timeout}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return false, err.Error()
	}
	req.Header.Set("User-Agent", userAgent)
	req.Header.Set("Accept", "*/*")
	for _, h := range g.HTTPHeaders {
		if strings.EqualFold(h.Name, "Host") {
			req.Host = h.Value
			continue
		}
		req.Header.Set(h.Name, h.Value)
	}
	resp, err := client.Do(req)
	if err != nil {
		return false, err.Error()
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxBody))
	if resp.StatusCode >= http.StatusOK && resp.StatusCode < http.StatusBadRequest {
		return true, ""
	}
	return false, fmt.Sprintf("HTTP probe failed with statuscode: %d", resp.StatusCode)
}

// host is where a network probe connects: its host, or the pod itself.
func host(h string) string {
	if h == "" {
		return "127.0.0.1"
	}
	return h
}

// resolvePort turns a probe's port, a number or the name of one of c's ports, into a
// number.
func resolvePort(port intstr.IntOrString, c *corev1.Container) (int, error) {
	if port.Type == intstr.Int {
		if port.IntVal < 1 || port.IntVal > 65535 {
			return 0, fmt.Errorf("invalid port number: %d", port.IntVal)
		}
		return int(port.IntVal), nil
	}
	for _, p := range c.Ports {
		if p.Name == port.StrVal {
			return int(p.ContainerPort), nil
		}
	}
	if n, err := strconv.Atoi(port.StrVal); err == nil && n > 0 && n < 65536 {
		return n, nil
	}
	return 0, fmt.Errorf("couldn't find port %q in container %s: name one of its ports", port.StrVal, c.Name)
}
