package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strconv"

	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kybern/kybern/node-agent/agent"
	"github.com/kybern/kybern/node-agent/identity"
	"github.com/kybern/kybern/node-agent/runtime"
	"github.com/kybern/kybern/node-agent/server"
	"github.com/kybern/kybern/node-agent/stats"
)

// apiOptions are the flags of the agent's API, the kubelet's names.
type apiOptions struct {
	address           string
	port              int
	clientCAFile      string
	certFile, keyFile string
}

// startAPI serves the node's API in the background until ctx ends, once the Node is
// registered (its serving certificate names the Node's address). A port of 0 serves none.
func startAPI(ctx context.Context, o options, shared agent.Shared, rt runtime.Runtime) error {
	if o.api.port == 0 {
		return nil
	}
	if o.api.port < 0 || o.api.port > 65535 {
		return fmt.Errorf("--port=%d: must be 0 (no API) or a port, 1-65535", o.api.port)
	}
	if (o.api.certFile == "") != (o.api.keyFile == "") {
		return errors.New("--tls-cert-file and --tls-private-key-file go together: give both or neither")
	}
	clientset, err := kubernetes.NewForConfigAndClient(shared.Rest, shared.HTTP)
	if err != nil {
		return err
	}
	auth, err := server.NewAuth(ctx, clientset, o.nodeName, o.api.clientCAFile)
	if err != nil {
		return err
	}
	getCertificate, err := servingCertificate(ctx, o, shared)
	if err != nil {
		return err
	}
	pods, err := client.New(shared.Rest, client.Options{Scheme: shared.Scheme, HTTPClient: shared.HTTP, Mapper: shared.Mapper})
	if err != nil {
		return err
	}
	s := &server.Server{Node: o.nodeName, Runtime: rt, NodeStats: nodeStats(rt), Pods: pods, LogDir: o.logDir, Auth: auth,
		Log: shared.Log.WithName("api").WithValues("node", o.nodeName)}
	address := net.JoinHostPort(o.api.address, strconv.Itoa(o.api.port))
	l, err := net.Listen("tcp", address)
	if err != nil {
		return fmt.Errorf("--address=%s --port=%d: %w (agents that share a machine need a --port each)", o.api.address, o.api.port, err)
	}
	go func() {
		if err := s.Serve(ctx, l, getCertificate); err != nil {
			s.Log.Error(err, "The node agent's API stopped")
		}
	}()
	return nil
}

// nodeStats measures the node rt runs on: rt itself when it measures its node (the
// simulated runtime, whose node uses what its containers do), else the host's root cgroup.
func nodeStats(rt runtime.Runtime) stats.Source {
	if own, ok := rt.(stats.Source); ok {
		return own
	}
	return stats.NewHost()
}

// servingCertificate is the API's certificate: --tls-cert-file's, or one the agent asks
// the cluster for and renews.
func servingCertificate(ctx context.Context, o options, shared agent.Shared) (func(*tls.ClientHelloInfo) (*tls.Certificate, error), error) {
	if o.api.certFile != "" {
		pair, err := tls.LoadX509KeyPair(o.api.certFile, o.api.keyFile)
		if err != nil {
			return nil, fmt.Errorf("--tls-cert-file=%s --tls-private-key-file=%s: %w", o.api.certFile, o.api.keyFile, err)
		}
		return func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return &pair, nil }, nil
	}
	ip := net.ParseIP(hostAddress())
	return identity.Serving(ctx, o.nodeName, o.nodeCertDir(), shared.Rest, []net.IP{ip})
}
