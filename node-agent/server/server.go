// Package server is the node agent's HTTPS API, the kubelet's port: container logs, exec
// and port-forward for the pods bound to the node, the node's log directory under /logs/,
// and the node's and its pods' CPU and memory at /metrics/resource (metrics.go) and
// /stats/summary (summary.go), for callers the apiserver
// authenticates and authorises (auth.go). The streaming endpoints speak upstream's
// protocols through the kubelet's own libraries (k8s.io/cri-streaming): SPDY and the
// v4 websocket channels directly, websocket v5.channel.k8s.io (exec) and SPDY tunnelled
// over websocket (port-forward) translated as kube-apiserver translates them for the
// kubelet, so that client-go's executors and dialers work unchanged.
package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
	"github.com/kybern/kybern/node-agent/podworker"
	"github.com/kybern/kybern/node-agent/runtime"
	"github.com/kybern/kybern/node-agent/stats"
)

// DefaultPort is the kubelet's.
const DefaultPort = 10250

// Streaming timeouts, the kubelet's defaults: a stream idle this long is closed, and a
// client has this long to open the streams it asked for.
const (
	idleTimeout           = 4 * time.Hour
	streamCreationTimeout = 30 * time.Second
)

// Server serves one node's API.
type Server struct {
	Node    string
	Runtime runtime.Runtime
	// NodeStats measures the node itself, for /metrics/resource and /stats/summary.
	NodeStats stats.Source
	// Pods reads the pods asked about; only pods bound to Node are served.
	Pods client.Reader
	// LogDir is where container logs are, in the kubelet's layout.
	LogDir string
	Auth   *Auth
	Log    logr.Logger

	loop *loopback
}

// Handler is the API behind authentication and authorisation.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) })
	mux.Handle("GET /logs/", http.StripPrefix("/logs/", http.FileServer(http.Dir(s.LogDir))))
	mux.HandleFunc("GET /containerLogs/{namespace}/{pod}/{container}", s.containerLogs)
	mux.HandleFunc("/exec/{namespace}/{pod}/{container}", s.exec)
	mux.HandleFunc("/exec/{namespace}/{pod}/{uid}/{container}", s.exec)
	mux.HandleFunc("/portForward/{namespace}/{pod}", s.portForward)
	mux.HandleFunc("/portForward/{namespace}/{pod}/{uid}", s.portForward)
	mux.HandleFunc("GET /metrics/resource", s.resourceMetrics)
	mux.HandleFunc("GET /stats/summary", s.statsSummary)
	return s.Auth.Wrap(mux)
}

// Serve serves the API on l with TLS from getCertificate until ctx ends. Callers may
// present a client certificate, which Auth verifies.
func (s *Server) Serve(ctx context.Context, l net.Listener, getCertificate func(*tls.ClientHelloInfo) (*tls.Certificate, error)) error {
	s.loop = newLoopback()
	internal := &http.Server{Handler: s.internalHandler(), ReadHeaderTimeout: streamCreationTimeout}
	go func() { _ = internal.Serve(s.loop) }()
	defer internal.Close()

	srv := &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: 30 * time.Second,
		TLSConfig: &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: getCertificate, ClientAuth: tls.RequestClientCert,
			NextProtos: []string{"http/1.1"}},
		// HTTP/1.1 only: the streaming protocols upgrade the connection.
		TLSNextProto: map[string]func(*http.Server, *tls.Conn, http.Handler){},
	}
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	s.Log.Info("Serving the node agent's API", "address", l.Addr().String())
	if err := srv.ServeTLS(l, "", ""); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// httpError is an error with the status it answers with.
type httpError struct {
	code int
	msg  string
}

func (e *httpError) Error() string { return e.msg }

func badRequest(format string, args ...any) error {
	return &httpError{code: http.StatusBadRequest, msg: fmt.Sprintf(format, args...)}
}

func notFound(format string, args ...any) error {
	return &httpError{code: http.StatusNotFound, msg: fmt.Sprintf(format, args...)}
}

// fail answers with err's status (500 for an error that has none).
func (s *Server) fail(w http.ResponseWriter, err error) {
	var he *httpError
	if errors.As(err, &he) {
		http.Error(w, he.msg, he.code)
		return
	}
	s.Log.Error(err, "Serving a request")
	http.Error(w, err.Error(), http.StatusInternalServerError)
}

// pod is the pod namespace/name bound to this node; uid, when not empty, must be its UID.
func (s *Server) pod(r *http.Request) (*corev1alpha1.Pod, error) {
	ns, name := r.PathValue("namespace"), r.PathValue("pod")
	pod := &corev1alpha1.Pod{}
	if err := s.Pods.Get(r.Context(), client.ObjectKey{Namespace: ns, Name: name}, pod); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, notFound("pod %s/%s not found", ns, name)
		}
		return nil, err
	}
	if pod.Spec.NodeName != s.Node {
		return nil, notFound("pod %s/%s is not on node %s", ns, name, s.Node)
	}
	if uid := r.PathValue("uid"); uid != "" && uid != string(pod.UID) {
		return nil, notFound("pod %s/%s has UID %s, not %s", ns, name, pod.UID, uid)
	}
	return pod, nil
}

// instances are the containers named name of pod, newest attempt first; name must be one
// of the pod's containers or init containers.
func (s *Server) instances(ctx context.Context, pod *corev1alpha1.Pod, name string) ([]runtime.Container, error) {
	known := slices.ContainsFunc(pod.Spec.Containers, func(c corev1.Container) bool { return c.Name == name }) ||
		slices.ContainsFunc(pod.Spec.InitContainers, func(c corev1.Container) bool { return c.Name == name })
	if !known {
		return nil, badRequest("container %s is not valid for pod %s", name, pod.Name)
	}
	all, err := s.Runtime.PodContainers(ctx, pod.UID)
	if err != nil {
		return nil, err
	}
	return podworker.ByName(all)[name], nil
}

// running is the running instance of container name in pod.
func (s *Server) running(ctx context.Context, pod *corev1alpha1.Pod, name string) (runtime.Container, error) {
	instances, err := s.instances(ctx, pod, name)
	if err != nil {
		return runtime.Container{}, err
	}
	if len(instances) == 0 || instances[0].State != runtime.StateRunning {
		return runtime.Container{}, badRequest("container %s in pod %s/%s is not running", name, pod.Namespace, pod.Name)
	}
	return instances[0], nil
}
