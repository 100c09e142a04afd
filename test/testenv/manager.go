package testenv

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"slices"
	"sync"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/kybern/kybern/api"
	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
	"github.com/kybern/kybern/controllers"
	"github.com/kybern/kybern/controllers/admission"
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

// StartManagerWithAdmission is StartManagerWithConfig with the manager's admission webhook
// serving on a free loopback port and registered; the registration stays once the
// manager stops, until the caller deletes it.
func (e *Env) StartManagerWithAdmission(cfg *rest.Config, opts controllers.Options) (*Manager, error) {
	addr, err := FreeLoopbackAddr()
	if err != nil {
		return nil, err
	}
	return e.startManager(cfg, opts, &admission.Options{BindAddress: addr, DefaultLevel: "baseline"})
}

// StartManagerWithConfig runs the controllers with the client settings of cfg, such as
// its rate limits and a transport that counts requests.
func (e *Env) StartManagerWithConfig(cfg *rest.Config, opts controllers.Options) (*Manager, error) {
	return e.startManager(cfg, opts, nil)
}

// startManager runs the controllers, and the admission webhook when hook is not nil.
func (e *Env) startManager(cfg *rest.Config, opts controllers.Options, hook *admission.Options) (*Manager, error) {
	if opts.ClusterSigningCertFile == "" {
		opts.ClusterSigningCertFile, opts.ClusterSigningKeyFile = e.CA.CertFile, e.CA.KeyFile
	}
	if opts.RootCAFile == "" {
		opts.RootCAFile = e.CA.CertFile
	}
	if hook != nil {
		// Admission gives new pods a service account: the namespace's default account and
		// its CA must exist, as kube-controller-manager keeps them on a real cluster.
		opts.Controllers = append(slices.Clone(opts.Controllers), "serviceaccount", "root-ca-cert-publisher")
		e.accounts.Store(true)
	}
	scheme := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(scheme))
	utilruntime.Must(api.AddToScheme(scheme))
	mgrOpts := ctrl.Options{
		Scheme:                 scheme,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		Cache:                  controllers.CacheOptions(),
		HealthProbeBindAddress: "0",
		// Each suite may start several managers in one process.
		Controller: config.Controller{SkipNameValidation: ptr.To(true)},
	}
	var w *admission.Webhook
	if hook != nil {
		var err error
		if w, err = admission.New(*hook); err != nil {
			return nil, err
		}
		mgrOpts.WebhookServer = w.Server
	}
	mgr, err := ctrl.NewManager(cfg, mgrOpts)
	if err != nil {
		return nil, err
	}
	if w != nil {
		if err := w.Register(mgr); err != nil {
			return nil, err
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	if _, err := controllers.SetupWithManager(ctx, mgr, opts); err != nil {
		cancel()
		return nil, err
	}
	m := &Manager{Cache: mgr.GetCache(), cancel: cancel}
	m.done.Go(func() { m.err = mgr.Start(ctx) })
	if w != nil {
		if err := e.awaitAdmission(ctx, w); err != nil {
			return nil, errors.Join(err, m.Stop())
		}
	}
	return m, nil
}

// awaitAdmission waits until the apiserver sends kybern Pods to w: w has registered, and
// AdmissionProbe is refused.
func (e *Env) awaitAdmission(ctx context.Context, w *admission.Webhook) error {
	last := errors.New("the webhook never registered")
	err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		if w.Registered(nil) != nil {
			return false, nil
		}
		last = e.AdmissionProbe(ctx)
		return apierrors.IsForbidden(last), nil
	})
	if err != nil {
		return fmt.Errorf("waiting for the apiserver to refuse a privileged pod through the admission webhook: %w; last answer: %v", err, last)
	}
	return nil
}

// RemoveAdmission deletes the webhook registrations a manager with admission left, so
// that managers started later without it can create pods.
func (e *Env) RemoveAdmission(ctx context.Context) error {
	meta := metav1.ObjectMeta{Name: admission.ConfigurationName}
	return errors.Join(
		client.IgnoreNotFound(e.Client.Delete(ctx, &admissionregistrationv1.ValidatingWebhookConfiguration{ObjectMeta: meta})),
		client.IgnoreNotFound(e.Client.Delete(ctx, &admissionregistrationv1.MutatingWebhookConfiguration{ObjectMeta: meta})))
}

// AdmissionProbe asks, without storing anything, for a Pod with a privileged container
// named "probe" in the default namespace: the manager's webhook refuses it at the default
// level (baseline), the apiserver alone does not.
func (e *Env) AdmissionProbe(ctx context.Context) error {
	probe := &corev1alpha1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "default", GenerateName: "admission-probe-"},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "probe", Image: "busybox",
			SecurityContext: &corev1.SecurityContext{Privileged: ptr.To(true)}}}}}
	return e.Client.Create(ctx, probe, client.DryRunAll)
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
	return e.NewPodSecurityNamespace(ctx, prefix, "")
}

// NewPodSecurityNamespace is NewNamespace with the Pod Security level (privileged,
// baseline or restricted) enforced, warned and audited in it; "" sets no label, so the
// manager's default level applies.
func (e *Env) NewPodSecurityNamespace(ctx context.Context, prefix, level string) (string, error) {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: prefix + "-"}}
	if level != "" {
		ns.Labels = map[string]string{}
		for _, mode := range []string{"enforce", "warn", "audit"} {
			ns.Labels["pod-security.kubernetes.io/"+mode] = level
		}
	}
	if err := e.Client.Create(ctx, ns); err != nil {
		return "", err
	}
	if !e.accounts.Load() {
		return ns.Name, nil
	}
	// As upstream's e2e framework does: a pod is refused until its namespace's default
	// ServiceAccount exists, which the manager's controller creates a moment after the
	// namespace (longer while it starts).
	err := wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		err := e.Client.Get(ctx, client.ObjectKey{Namespace: ns.Name, Name: corev1alpha1.DefaultServiceAccountName}, &corev1.ServiceAccount{})
		return err == nil, client.IgnoreNotFound(err)
	})
	if err != nil {
		return "", fmt.Errorf("waiting for the default ServiceAccount of namespace %s: %w", ns.Name, err)
	}
	return ns.Name, nil
}
