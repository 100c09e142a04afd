package testenv

import (
	"context"
	"errors"
	"io"

	"flag"
	"fmt"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sync"

	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/kybern/kybern/api"
	"github.com/kybern/kybern/controllers"
)

// Manager is a running manager with every controller, as main.go wires it.
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
	if err := controllers.SetupWithManager(ctx, mgr, opts); err != nil {
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

// Suite is what a controller's Ginkgo suite runs against: a control plane with the CRDs
// installed and a manager running every controller.
type Suite struct {
	Env *Env
	// Manager may be stopped and replaced by a spec; Stop stops the current one.
	Manager *Manager
	// Ctx lives until Stop.
	Ctx    context.Context
	cancel context.CancelFunc
}

// StartSuite starts a suite's control plane and manager, logging to log. prepare, when
// not nil, runs once the CRDs are installed and before the manager starts.
func StartSuite(dir string, log io.Writer, opts controllers.Options, prepare func(context.Context, *Env) error) (*Suite, error) {
	logf.SetLogger(zap.New(zap.WriteTo(log), zap.UseDevMode(true)))
	ctx, cancel := context.WithCancel(context.Background())
	s := &Suite{Ctx: ctx, cancel: cancel}
	var err error
	if s.Env, err = Start(dir); err != nil {
		cancel()
		return nil, err
	}
	if err := s.Env.InstallCRDs(ctx); err != nil {
		return nil, errors.Join(err, s.Stop())
	}
	if prepare != nil {
		if err := prepare(ctx, s.Env); err != nil {
			return nil, errors.Join(err, s.Stop())
		}
	}
	if s.Manager, err = s.Env.StartManager(opts); err != nil {
		return nil, errors.Join(err, s.Stop())
	}
	return s, nil
}

// Stop stops the manager, then the control plane.
func (s *Suite) Stop() error {
	s.cancel()
	var err error
	if s.Manager != nil {
		err = s.Manager.Stop()
	}
	return errors.Join(err, s.Env.Stop())
}
