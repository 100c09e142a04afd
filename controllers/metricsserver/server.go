package metricsserver

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	stdlog "log"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/go-logr/logr"
)

// server serves the metrics API over TLS, asking for the client certificate the front
// proxy authenticates with.
type server struct {
	address        string
	handler        http.Handler
	getCertificate func(*tls.ClientHelloInfo) (*tls.Certificate, error)
	log            logr.Logger
}

// logWriter writes the lines of a standard library logger to a logr.Logger.
type logWriter struct{ log logr.Logger }

func (w logWriter) Write(p []byte) (int, error) {
	w.log.Info("HTTP server", "message", strings.TrimSpace(string(p)))
	return len(p), nil
}

// NeedLeaderElection is false: every replica serves.
func (s *server) NeedLeaderElection() bool { return false }

// Start serves until ctx ends.
func (s *server) Start(ctx context.Context) error {
	l, err := net.Listen("tcp", s.address)
	if err != nil {
		return fmt.Errorf("--metrics-api-bind-address=%s: %w", s.address, err)
	}
	// Failed handshakes (clients that probe the port, or drop the connection) are not the
	// server's errors; they are logged only at verbosity 2.
	srv := &http.Server{Handler: s.handler, ReadHeaderTimeout: 30 * time.Second, ErrorLog: stdlog.New(logWriter{s.log.V(2)}, "", 0),
		TLSConfig: &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: s.getCertificate, ClientAuth: tls.RequestClientCert}}
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	}()
	s.log.Info("Serving the metrics API", "address", l.Addr().String(), "group", GroupVersion.String())
	if err := srv.ServeTLS(l, "", ""); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
