// Command manager is kybern's control plane: one controller-runtime manager running the
// controllers of the registry in package controllers (the workload controllers, the
// scheduler, the garbage collector, node lifecycle, the node authorizer, Services and
// EndpointSlices) against a kube-apiserver; --controllers chooses which.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"syscall"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	"sigs.k8s.io/controller-runtime/pkg/metrics/filters"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/controller-runtime/pkg/webhook"

	"github.com/kybern/kybern/api"
	"github.com/kybern/kybern/controllers"
	"github.com/kybern/kybern/controllers/admission"
)

// flags are the manager's command-line settings beyond the --zap-* logging flags.
type flags struct {
	metricsAddr           string
	metricsSecure         bool
	metricsCertDir        string
	probeAddr             string
	leaderElect           bool
	leaderElectionID      string
	leaderElectionNS      string
	leaseDuration         time.Duration
	renewDeadline         time.Duration
	retryPeriod           time.Duration
	qps                   float64
	burst                 int
	controllers           controllers.Options
	admission             admission.Options
	gracefulShutdownLimit time.Duration
}

func (f *flags) bind(fs *flag.FlagSet) {
	fs.StringVar(&f.metricsAddr, "metrics-bind-address", ":8443", "Address the Prometheus metrics endpoint binds to; 0 disables it.")
	fs.BoolVar(&f.metricsSecure, "metrics-secure", true, "Serve metrics over HTTPS to readers that present a bearer token the apiserver authenticates (TokenReview) and authorises for GET /metrics (SubjectAccessReview); false serves plain HTTP to anyone.")
	fs.StringVar(&f.metricsCertDir, "metrics-cert-dir", "", "Directory with the metrics server's certificate (tls.crt, tls.key); empty makes a self-signed one at start.")
	fs.StringVar(&f.probeAddr, "health-probe-bind-address", ":8081", "Address the /healthz and /readyz endpoints bind to; 0 disables them.")
	fs.BoolVar(&f.leaderElect, "leader-elect", true, "Elect a leader through a Lease so that only one of several replicas acts; a manager that stops gracefully releases it at once.")
	fs.StringVar(&f.leaderElectionID, "leader-election-id", "kybern-manager", "Name of the leader election Lease.")
	fs.StringVar(&f.leaderElectionNS, "leader-election-namespace", "", "Namespace of the leader election Lease; defaults to the pod's namespace in a cluster, and must be set outside one.")
	fs.DurationVar(&f.leaseDuration, "leader-elect-lease-duration", 15*time.Second, "How long a follower waits before taking over a lease that was not renewed.")
	fs.DurationVar(&f.renewDeadline, "leader-elect-renew-deadline", 10*time.Second, "How long the leader retries renewing its lease before it gives up leading; less than --leader-elect-lease-duration.")
	// Half of upstream's 2 s: a follower tries up to 1.2 retry periods apart, and a
	// released lease is taken within 3 s only when those tries are at most 2.2 s apart.
	fs.DurationVar(&f.retryPeriod, "leader-elect-retry-period", time.Second, "How often the leader renews its lease and a follower tries to take it; 1.2 times it is less than --leader-elect-renew-deadline.")
	fs.Float64Var(&f.qps, "kube-api-qps", controllers.DefaultQPS, "Queries per second to the apiserver, across all controllers.")
	fs.IntVar(&f.burst, "kube-api-burst", controllers.DefaultBurst, "Burst of queries to the apiserver above --kube-api-qps.")
	fs.DurationVar(&f.gracefulShutdownLimit, "graceful-shutdown-timeout", 30*time.Second, "How long controllers may take to finish their work on shutdown.")
	f.controllers.BindFlags(fs)
	f.admission.BindFlags(fs)
}

func (f *flags) validate() error {
	if f.qps <= 0 {
		return fmt.Errorf("--kube-api-qps=%v: must be greater than 0", f.qps)
	}
	if f.burst < 1 {
		return fmt.Errorf("--kube-api-burst=%d: must be at least 1", f.burst)
	}
	if f.leaderElect && f.leaseDuration <= f.renewDeadline {
		return fmt.Errorf("--leader-elect-lease-duration=%s: must be longer than --leader-elect-renew-deadline=%s", f.leaseDuration, f.renewDeadline)
	}
	if f.leaderElect && float64(f.renewDeadline) <= 1.2*float64(f.retryPeriod) {
		return fmt.Errorf("--leader-elect-renew-deadline=%s: must be longer than 1.2 times --leader-elect-retry-period=%s", f.renewDeadline, f.retryPeriod)
	}
	if f.leaderElect && f.leaderElectionNS == "" {
		if _, err := os.Stat(inClusterNamespaceFile); err != nil {
			return errors.New("--leader-election-namespace is required outside a cluster; set it, or pass --leader-elect=false")
		}
	}
	if err := f.admission.Validate(); err != nil {
		return err
	}
	return f.controllers.Validate()
}

func main() {
	var f flags
	f.bind(flag.CommandLine)
	zapOpts := zap.Options{}
	zapOpts.BindFlags(flag.CommandLine)
	flag.Parse()
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&zapOpts)))
	log := ctrl.Log.WithName("setup")

	if err := run(f); err != nil {
		log.Error(err, "Manager failed")
		os.Exit(1)
	}
}

func run(f flags) error {
	if err := f.validate(); err != nil {
		return err
	}
	scheme := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(scheme))
	utilruntime.Must(api.AddToScheme(scheme))

	cfg, err := ctrl.GetConfig()
	if err != nil {
		return fmt.Errorf("no kubeconfig: set --kubeconfig or KUBECONFIG, or run in a cluster: %w", err)
	}
	cfg.QPS = float32(f.qps)
	cfg.Burst = f.burst

	var hook *admission.Webhook
	var hookServer webhook.Server
	if f.admission.Enabled() {
		if hook, err = admission.New(f.admission); err != nil {
			return err
		}
		hookServer = hook.Server
	}
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                  scheme,
		Metrics:                 metricsOptions(f),
		Cache:                   controllers.CacheOptions(),
		HealthProbeBindAddress:  f.probeAddr,
		LeaderElection:          f.leaderElect,
		LeaderElectionID:        f.leaderElectionID,
		LeaderElectionNamespace: f.leaderElectionNS,
		LeaseDuration:           &f.leaseDuration,
		RenewDeadline:           &f.renewDeadline,
		RetryPeriod:             &f.retryPeriod,
		// run returns, and the process ends, once the manager stops.
		LeaderElectionReleaseOnCancel: true,
		GracefulShutdownTimeout:       &f.gracefulShutdownLimit,
		WebhookServer:                 hookServer,
	})
	if err != nil {
		return describeManagerError(err, f)
	}
	if err := requireCRDs(mgr.GetRESTMapper()); err != nil {
		return err
	}
	if hook != nil {
		if err := hook.Register(mgr); err != nil {
			return err
		}
	}
	ctx := ctrl.SetupSignalHandler()
	enabled, err := controllers.SetupWithManager(ctx, mgr, f.controllers)
	if err != nil {
		return err
	}
	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		return err
	}
	if err := mgr.AddReadyzCheck("readyz", healthz.Ping); err != nil {
		return err
	}
	ctrl.Log.WithName("setup").Info("Starting manager", "host", cfg.Host, "leaderElection", f.leaderElect, "controllers", enabled, "admission", f.admission.BindAddress)
	return mgr.Start(ctx)
}

// metricsOptions serves metrics as kubebuilder scaffolds it: over HTTPS, to callers the
// apiserver authenticates and authorises, unless --metrics-secure=false.
func metricsOptions(f flags) metricsserver.Options {
	opts := metricsserver.Options{BindAddress: f.metricsAddr, SecureServing: f.metricsSecure, CertDir: f.metricsCertDir}
	if f.metricsSecure {
		opts.FilterProvider = filters.WithAuthenticationAndAuthorization
	}
	return opts
}

// describeManagerError names the flag that fixes an error the user can fix.
func describeManagerError(err error, f flags) error {
	if errors.Is(err, syscall.EADDRINUSE) {
		return fmt.Errorf("%w: another process holds --metrics-bind-address=%s or --health-probe-bind-address=%s; stop it or choose other addresses", err, f.metricsAddr, f.probeAddr)
	}
	return err
}

// requireCRDs fails, naming the fix, when the cluster does not serve kybern's kinds.
func requireCRDs(mapper meta.RESTMapper) error {
	scheme := runtime.NewScheme()
	utilruntime.Must(api.AddToScheme(scheme))
	for gvk, t := range scheme.AllKnownTypes() {
		// The scheme also holds the meta kinds (ListOptions, WatchEvent, …) of each group.
		if !strings.HasPrefix(t.PkgPath(), "github.com/kybern/kybern/api/") || strings.HasSuffix(gvk.Kind, "List") {
			continue
		}
		if _, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version); err != nil {
			return fmt.Errorf("the cluster does not serve %s (%s): kybern's CRDs are not installed; run make install against this cluster: %w", gvk.Kind, gvk.GroupVersion(), err)
		}
	}
	return nil
}

// inClusterNamespaceFile holds the pod's namespace when the manager runs in a cluster.
const inClusterNamespaceFile = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"
