package metricsserver

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	apiregistrationv1 "k8s.io/kube-aggregator/pkg/apis/apiregistration/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kybern/kybern/controllers/internal/servingcert"
	"github.com/kybern/kybern/controllers/internal/setup"
)

// +kubebuilder:rbac:groups=core.kybern.io,resources=nodes,verbs=get;list;watch
// +kubebuilder:rbac:groups=core.kybern.io,resources=nodes/metrics;nodes/stats,verbs=get
// +kubebuilder:rbac:groups=core.kybern.io,resources=pods,verbs=get;list;watch

// Validate names the first metrics server flag that cannot work.
func Validate(s setup.MetricsServerSettings) error {
	if s.BindAddress == "0" {
		return nil
	}
	host, port, err := net.SplitHostPort(s.BindAddress)
	if err != nil {
		return fmt.Errorf("--metrics-api-bind-address=%s: %w; give host:port, or 0 for no metrics API", s.BindAddress, err)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("--metrics-api-bind-address=%s: the port must be 1-65535", s.BindAddress)
	}
	if s.Service == "" {
		if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
			return fmt.Errorf("--metrics-api-bind-address=%s: without --metrics-api-service the apiserver reaches the API through localhost, so the host must be 127.0.0.1; in a cluster, name the Service in front of the manager with --metrics-api-service", s.BindAddress)
		}
	} else if _, _, err := splitService(s.Service); err != nil {
		return err
	} else if s.CertDir == "" {
		return fmt.Errorf("--metrics-api-service=%s needs --metrics-api-cert-dir: the APIService's caBundle must be the CA of the certificate every replica serves", s.Service)
	}
	return nil
}

func splitService(s string) (namespace, name string, err error) {
	namespace, name, ok := strings.Cut(s, "/")
	if !ok || namespace == "" || name == "" || strings.Contains(name, "/") {
		return "", "", fmt.Errorf("--metrics-api-service=%s: must be <namespace>/<name> of a Service, such as kybern-system/kybern-metrics-api", s)
	}
	return namespace, name, nil
}

// SetupWithManager adds the scraper that fills cfg.ResourceMetrics and, unless
// --metrics-api-bind-address is 0, the metrics API, which a local manager also registers
// (a manager behind --metrics-api-service is registered by its deployer); an apiserver
// that does not aggregate gets no metrics API, and the manager says so and runs on.
func SetupWithManager(ctx context.Context, mgr ctrl.Manager, cfg setup.Config) error {
	agents, err := agentClient(mgr.GetConfig(), cfg.MetricsServer.KubeletCAFile)
	if err != nil {
		return err
	}
	log := mgr.GetLogger().WithName("metrics-server")
	if err := mgr.Add(&scraper{nodes: mgr.GetClient(), agents: agents, store: cfg.ResourceMetrics, resolution: cfg.MetricsServer.Resolution,
		clock: cfg.Clock, log: log}); err != nil {
		return err
	}
	s := cfg.MetricsServer
	if s.BindAddress == "0" {
		return nil
	}
	clientset, err := kubernetes.NewForConfig(mgr.GetConfig())
	if err != nil {
		return err
	}
	a, err := newAuth(ctx, clientset)
	if err != nil {
		// The autoscaler still has usage; only readers through the apiserver go without.
		log.Error(err, "Not serving the metrics API: the apiserver does not aggregate API servers; a local control plane started before kybern aggregated needs a restart (make envtest-down envtest-up)")
		return nil
	}
	caBundle, getCertificate, err := certificate(s)
	if err != nil {
		return err
	}
	srv := &server{address: s.BindAddress, handler: a.wrap((&api{usage: cfg.ResourceMetrics, objects: mgr.GetClient(), clock: cfg.Clock}).handler()),
		getCertificate: getCertificate, log: log}
	if err := mgr.Add(srv); err != nil {
		return err
	}
	if s.Service != "" {
		// The deployer (the chart) owns the Service and the APIService.
		return nil
	}
	reg, err := newRegistration(mgr.GetConfig(), s, caBundle)
	if err != nil {
		return err
	}
	return mgr.Add(reg)
}

// agentClient calls the node agents with the manager's own credential, verifying their
// serving certificates with caFile or, when it is empty, the apiserver's CA.
func agentClient(cfg *rest.Config, caFile string) (*http.Client, error) {
	c := rest.CopyConfig(cfg)
	c.ServerName = ""
	if caFile != "" {
		if _, err := os.Stat(caFile); err != nil {
			return nil, fmt.Errorf("--kubelet-certificate-authority=%s: %w", caFile, err)
		}
		c.CAFile, c.CAData = caFile, nil
	}
	c.Timeout = 10 * time.Second
	return rest.HTTPClientFor(c)
}

// certificate is the API's serving certificate and the CA bundle the apiserver is to
// trust: --metrics-api-cert-dir's, reloaded when it changes, or one made now for the
// Service's DNS name.
func certificate(s setup.MetricsServerSettings) ([]byte, func(*tls.ClientHelloInfo) (*tls.Certificate, error), error) {
	if s.CertDir != "" {
		ca, err := os.ReadFile(filepath.Join(s.CertDir, "ca.crt"))
		if err != nil {
			return nil, nil, fmt.Errorf("--metrics-api-cert-dir=%s: reading the CA the apiserver is to trust: %w; put ca.crt beside tls.crt and tls.key, or leave the flag empty for a self-signed certificate", s.CertDir, err)
		}
		certFile, keyFile := filepath.Join(s.CertDir, "tls.crt"), filepath.Join(s.CertDir, "tls.key")
		if _, err := tls.LoadX509KeyPair(certFile, keyFile); err != nil {
			return nil, nil, fmt.Errorf("--metrics-api-cert-dir=%s: %w", s.CertDir, err)
		}
		return ca, func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			pair, err := tls.LoadX509KeyPair(certFile, keyFile)
			return &pair, err
		}, nil
	}
	ns, name := LocalServiceNamespace, LocalServiceName
	if s.Service != "" {
		ns, name, _ = splitService(s.Service)
	}
	caPEM, certPEM, keyPEM, err := servingcert.SelfSigned("kybern-metrics-api-ca", []string{name + "." + ns + ".svc", "localhost", "127.0.0.1"}, time.Now())
	if err != nil {
		return nil, nil, err
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, nil, err
	}
	return caPEM, func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return &pair, nil }, nil
}

func newRegistration(cfg *rest.Config, s setup.MetricsServerSettings, caBundle []byte) (*registration, error) {
	scheme := runtime.NewScheme()
	if err := errors.Join(clientgoscheme.AddToScheme(scheme), apiregistrationv1.AddToScheme(scheme)); err != nil {
		return nil, err
	}
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		return nil, err
	}
	_, port, _ := net.SplitHostPort(s.BindAddress)
	n, _ := strconv.Atoi(port)
	return &registration{client: c, caBundle: caBundle, port: int32(n)}, nil
}
