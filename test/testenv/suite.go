package testenv

import (
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/onsi/ginkgo/v2"
	"github.com/onsi/gomega"
	"k8s.io/client-go/rest"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/kybern/kybern/controllers"
	"github.com/kybern/kybern/controllers/admission"
)

// SuiteSpec says what a suite's control plane runs.
type SuiteSpec struct {
	// Controllers are the registry names of the controllers the suite's manager runs, as
	// --controllers takes them; empty, with Admission false, starts no manager.
	Controllers []string
	// Configure, when not nil, adjusts the manager's options before it starts.
	Configure func(*controllers.Options)
	// Prepare, when not nil, runs once the CRDs are installed and before the manager starts.
	Prepare func(context.Context, *Env) error
	// EventuallyTimeout is Gomega's default Eventually timeout; zero means 30s.
	EventuallyTimeout time.Duration
	// Admission, when true, has the manager serve its admission webhook (Pod Security, at
	// the default level) on a free loopback port, as make run's does.
	Admission bool
}

// Options are the manager options spec gives: the flags' defaults, its controllers, then
// Configure.
func (spec SuiteSpec) Options() controllers.Options {
	opts := DefaultOptions()
	opts.Controllers = spec.Controllers
	if spec.Configure != nil {
		spec.Configure(&opts)
	}
	return opts
}

// Suite is what a Ginkgo suite runs against: a control plane with the CRDs installed and,
// when its spec names controllers, a manager running them.
type Suite struct {
	Env *Env
	// Manager may be stopped and replaced by a spec; Stop stops the current one.
	Manager *Manager
	// Ctx lives until Stop.
	Ctx    context.Context
	cancel context.CancelFunc
	spec   SuiteSpec
}

// StartSuite starts spec's control plane and manager in dir, logging to log.
func StartSuite(dir string, log io.Writer, spec SuiteSpec) (*Suite, error) {
	logf.SetLogger(zap.New(zap.WriteTo(log), zap.UseDevMode(true)))
	ctx, cancel := context.WithCancel(context.Background())
	s := &Suite{Ctx: ctx, cancel: cancel, spec: spec}
	var err error
	if s.Env, err = Start(dir); err != nil {
		cancel()
		return nil, err
	}
	if err := s.Env.InstallCRDs(ctx); err != nil {
		return nil, errors.Join(err, s.Stop())
	}
	if spec.Prepare != nil {
		if err := spec.Prepare(ctx, s.Env); err != nil {
			return nil, errors.Join(err, s.Stop())
		}
	}
	if len(spec.Controllers) == 0 && !spec.Admission {
		return s, nil
	}
	if s.Manager, err = s.startManager(); err != nil {
		return nil, errors.Join(err, s.Stop())
	}
	return s, nil
}

// RestartManager stops the suite's manager and starts a new one with the same options, as
// a controller restart does: the new one knows only what the apiserver holds. between,
// when not nil, runs while no manager runs; the new manager starts even when between
// fails (a Ginkgo assertion panics out of it), so that later specs still have one.
func (s *Suite) RestartManager(between func()) (err error) {
	if s.Manager != nil {
		if err := s.Manager.Stop(); err != nil {
			return err
		}
		s.Manager = nil
	}
	defer func() {
		var startErr error
		s.Manager, startErr = s.startManager()
		if err == nil {
			err = startErr
		}
	}()
	if between != nil {
		between()
	}
	return nil
}

func (s *Suite) startManager() (*Manager, error) {
	cfg := rest.CopyConfig(s.Env.Config)
	cfg.QPS, cfg.Burst = -1, 0
	var hook *admission.Options
	if s.spec.Admission {
		addr, err := FreeLoopbackAddr()
		if err != nil {
			return nil, err
		}
		hook = &admission.Options{BindAddress: addr, DefaultLevel: "baseline"}
	}
	return s.Env.startManager(cfg, s.spec.Options(), hook)
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

// DeclareSuite declares the Ginkgo suite's BeforeSuite, which starts spec's control plane
// and then calls started (where Gomega assertions may run), and its AfterSuite, which
// stops it. Call it once, from a package-level var declaration.
func DeclareSuite(spec SuiteSpec, started func(*Suite)) bool {
	var suite *Suite
	ginkgo.BeforeSuite(func() {
		SetEventuallyDefaults(spec)
		var err error
		suite, err = StartSuite(ginkgo.GinkgoT().TempDir(), ginkgo.GinkgoWriter, spec)
		gomega.Expect(err).NotTo(gomega.HaveOccurred())
		started(suite)
	})
	ginkgo.AfterSuite(func() {
		if suite != nil {
			gomega.Expect(suite.Stop()).To(gomega.Succeed())
		}
	})
	return true
}

// SetEventuallyDefaults sets Gomega's default Eventually timeout to spec's, and its polling
// interval to 100ms; DeclareSuite does, and suites with their own BeforeSuite call it.
func SetEventuallyDefaults(spec SuiteSpec) {
	timeout := spec.EventuallyTimeout
	if timeout == 0 {
		timeout = 30 * time.Second
	}
	gomega.SetDefaultEventuallyTimeout(timeout)
	gomega.SetDefaultEventuallyPollingInterval(100 * time.Millisecond)
}

// RunSuite runs the package's Ginkgo specs as one Go test.
func RunSuite(t *testing.T, description string) {
	gomega.RegisterFailHandler(ginkgo.Fail)
	ginkgo.RunSpecs(t, description)
}
