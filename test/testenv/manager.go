package testenv

import (
	"context"
	"flag"
	"fmt"
	"sync"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/kybern/kybern/api"
	"github.com/kybern/kybern/controllers"
)

// Manager is a running manager with the controllers its options enable, wired as main.go
// wires them.
type Manager struct {
	// Cache reads objects as the controllers see them, which may lag the apiserver.
	Cache  client.Reader
	cancel context.CancelFunc
	done   sync.WaitGroup
	err    error
}

// DefaultOptions are the controller options main.go's flags default to.
func DefaultOptions() controllers.Options {
	var opts controllers.Options
	fs := flag.NewFlagSet("defaults", flag.PanicOnError)
	opts.BindFlags(fs)
	return opts
}

// StartManager runs the controllers against the env's apiserver until Stop, with no
// client-side rate limit.
func (e *Env) StartManager(opts controllers.Options) (*Manager, error) {
	cfg := rest.CopyConfig(e.Config)
	cfg.QPS, cfg.Burst = -1, 0
	return e.StartManagerWithConfig(cfg, opts)
}

// StartManagerWithConfig runs the controllers with the client settings of cfg, such as
// its rate limits and a transport that counts requests.
func (e *Env) StartManagerWithConfig(cfg *rest.Config, opts controllers.Options) (*Manager, error) {
	scheme := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(scheme))
	utilruntime.Must(api.AddToScheme(scheme))
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                 scheme,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		// Each suite may start several managers in one process.
		Controller: config.Controller{SkipNameValidation: ptr.To(true)},
	})
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	if _, err := controllers.SetupWithManager(ctx, mgr, opts); err != nil {
		cancel()
		return nil, err
	}
	m := &Manager{Cache: mgr.GetCache(), cancel: cancel}
	m.done.Go(func() { m.err = mgr.Start(ctx) })
	return m, nil
}

// Stop stops the manager and waits for it to finish.
func (m *Manager) Stop() error {
	m.cancel()
	m.done.Wait()
	if m.err != nil {
		return fmt.Errorf("manager: %w", m.err)
	}
	return nil
}

// NewNamespace creates a namespace named from prefix, for one test.
func (e *Env) NewNamespace(ctx context.Context, prefix string) (string, error) {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: prefix + "-"}}
	if err := e.Client.Create(ctx, ns); err != nil {
		return "", err
	}
	return ns.Name, nil
}
