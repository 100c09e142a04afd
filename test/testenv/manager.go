package testenv

import (
	"context"
	"flag"
	"fmt"
	"sync"

	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/config"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/kybern/kybern/api"
	"github.com/kybern/kybern/controllers"
)

// Manager is a running manager with every controller, as main.go wires it.
type Manager struct {
	cancel context.CancelFunc
	done   sync.WaitGroup
	err    error
}

// DefaultOptions are the controller options main.go's flags default to.
func DefaultOptions() controllers.Options {
	var opts controllers.Options
	fs := flag.NewFlagSet("defaults", flag.PanicOnError)
	opts.Concurrency.BindFlags(fs)
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
	if err := controllers.SetupWithManager(mgr, opts); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	m := &Manager{cancel: cancel}
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
