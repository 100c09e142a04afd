package horizontalpodautoscaler

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	autoscalingv1alpha1 "github.com/kybern/kybern/api/autoscaling/v1alpha1"
	"github.com/kybern/kybern/controllers/internal/resourcemetrics"
	"github.com/kybern/kybern/controllers/internal/setup"
)

// Reconciler reconciles HorizontalPodAutoscalers.
type Reconciler struct {
	client.Client
	// Mapper resolves a scale target's kind to its resource.
	Mapper   meta.RESTMapper
	Recorder record.EventRecorder
	Clock    clock.PassiveClock
	Settings setup.HPASettings
	// ResourceMetrics is the pods' CPU and memory usage, for Resource and ContainerResource
	// metrics; MetricsAPIs serves Pods, Object and External ones.
	ResourceMetrics resourcemetrics.Reader
	MetricsAPIs     MetricsAPIs

	history *history
}

// NewReconciler returns a Reconciler that remembers nothing yet.
func NewReconciler(c client.Client, mapper meta.RESTMapper, recorder record.EventRecorder, clk clock.PassiveClock,
	settings setup.HPASettings, usage resourcemetrics.Reader, apis MetricsAPIs) *Reconciler {
	return &Reconciler{Client: c, Mapper: mapper, Recorder: recorder, Clock: clk, Settings: settings,
		ResourceMetrics: usage, MetricsAPIs: apis, history: newHistory()}
}

// SetupWithManager registers the controller: each autoscaler is evaluated when created or
// when its spec changes, then every cfg.HorizontalPodAutoscaler.SyncPeriod, failed or not,
// as upstream's. Pods are not watched: a sync reads them from the cache. Resource metrics
// come from cfg.ResourceMetrics, Pods, Object and External ones from the cluster's custom
// and external metrics APIs, when served.
func SetupWithManager(_ context.Context, mgr ctrl.Manager, cfg setup.Config) error {
	settings := cfg.HorizontalPodAutoscaler
	if settings.SyncPeriod <= 0 {
		return fmt.Errorf("the autoscaler's sync period must be positive, not %s", settings.SyncPeriod)
	}
	apis, err := newClusterMetricsAPIs(mgr.GetConfig(), mgr.GetRESTMapper(), cfg.Clock, settings.SyncPeriod)
	if err != nil {
		return err
	}
	r := NewReconciler(mgr.GetClient(), mgr.GetRESTMapper(), cfg.Recorder, cfg.Clock, settings, cfg.ResourceMetrics, apis)
	return ctrl.NewControllerManagedBy(mgr).
		// The controller's own status writes change no generation and wake nothing.
		For(&autoscalingv1alpha1.HorizontalPodAutoscaler{}, builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		WithOptions(controller.Options{
			MaxConcurrentReconciles: cfg.Concurrency,
			RateLimiter:             workqueue.NewTypedItemExponentialFailureRateLimiter[reconcile.Request](settings.SyncPeriod, settings.SyncPeriod),
		}).
		Named("horizontalpodautoscaler").
		Complete(r)
}

// +kubebuilder:rbac:groups=autoscaling.kybern.io,resources=horizontalpodautoscalers,verbs=get;list;watch
// +kubebuilder:rbac:groups=autoscaling.kybern.io,resources=horizontalpodautoscalers/status,verbs=update;patch
// +kubebuilder:rbac:groups=core.kybern.io,resources=pods,verbs=list;watch
// +kubebuilder:rbac:groups=*,resources=*/scale,verbs=get;update;patch
// +kubebuilder:rbac:groups=custom.metrics.k8s.io,resources=*,verbs=get;list
// +kubebuilder:rbac:groups=external.metrics.k8s.io,resources=*,verbs=get;list
// +kubebuilder:rbac:groups="",resources=events,verbs=create;patch

// Reconcile evaluates one autoscaler, scales its target and writes its status.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	hpa := &autoscalingv1alpha1.HorizontalPodAutoscaler{}
	if err := r.Get(ctx, req.NamespacedName, hpa); err != nil {
		if apierrors.IsNotFound(err) {
			r.history.forget(req.NamespacedName)
			return ctrl.Result{}, nil
		}
		return ctrl.Result{}, err
	}
	before := hpa.Status.DeepCopy()
	r.autoscale(ctx, hpa, r.Clock.Now())
	if !apiequality.Semantic.DeepEqual(before, &hpa.Status) {
		// An update, not a patch: status.desiredReplicas is required, and a merge patch
		// leaves out a field whose value did not change.
		if err := r.Status().Update(ctx, hpa); err != nil {
			r.Recorder.Event(hpa, corev1.EventTypeWarning, EventFailedUpdateStatus, err.Error())
			return ctrl.Result{}, fmt.Errorf("updating status: %w", err)
		}
	}
	return ctrl.Result{RequeueAfter: r.Settings.SyncPeriod}, nil
}
