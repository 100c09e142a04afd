package endpoints

import (
	"context"
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/log"

	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
	"github.com/kybern/kybern/controllers/internal/expectations"
	"github.com/kybern/kybern/controllers/internal/setup"
)

var gvk = corev1alpha1.GroupVersion.WithKind("Service")

// Reconciler keeps Services' EndpointSlices in step with their pods.
type Reconciler struct {
	client.Client
	expectations *expectations.Expectations
}

// NewReconciler returns a Reconciler with fresh expectations on clk.
func NewReconciler(c client.Client, clk clock.PassiveClock) *Reconciler {
	return &Reconciler{Client: c, expectations: expectations.New(clk, expectations.DefaultTTL)}
}

// SetupWithManager registers the controller; cfg.Concurrency is how many Services it
// reconciles at once. A pod wakes the Services whose selectors match its old or new labels;
// a slice wakes the Service that controls it.
func SetupWithManager(_ context.Context, mgr ctrl.Manager, cfg setup.Config) error {
	r := NewReconciler(mgr.GetClient(), cfg.Clock)
	return ctrl.NewControllerManagedBy(mgr).
		For(&corev1alpha1.Service{}).
		Watches(&corev1alpha1.Pod{}, &podEvents{reader: mgr.GetCache()}).
		Watches(&corev1alpha1.EndpointSlice{}, &sliceEvents{expectations: r.expectations}).
		WithOptions(controller.Options{MaxConcurrentReconciles: cfg.Concurrency}).
		Named("endpointslice").
		Complete(r)
}

// +kubebuilder:rbac:groups=core.kybern.io,resources=services,verbs=get;list;watch
// +kubebuilder:rbac:groups=core.kybern.io,resources=pods,verbs=get;list;watch
// +kubebuilder:rbac:groups=core.kybern.io,resources=endpointslices,verbs=get;list;watch;create;update;patch;delete

// Reconcile writes one Service's EndpointSlices from the pods its selector matches.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	key := req.String()
	svc := &corev1alpha1.Service{}
	if err := r.Get(ctx, req.NamespacedName, svc); err != nil {
		if apierrors.IsNotFound(err) {
			// The garbage collector deletes its slices.
			r.expectations.Forget(key)
			return ctrl.Result{}, nil
		}
		return ctrl.Result{}, err
	}
	if svc.DeletionTimestamp != nil || svc.Spec.Selector == nil || svc.Spec.Type == corev1.ServiceTypeExternalName {
		return ctrl.Result{}, nil
	}
	// Read before the cache: writes seen after this point are seen by the next reconcile.
	if !r.expectations.Satisfied(key) {
		log.FromContext(ctx).V(1).Info("Waiting for the cache to show the slices written before")
		return ctrl.Result{}, nil
	}
	var pods corev1alpha1.PodList
	if err := r.List(ctx, &pods, client.InNamespace(svc.Namespace),
		client.MatchingLabelsSelector{Selector: labels.SelectorFromSet(svc.Spec.Selector)}, client.UnsafeDisableDeepCopy); err != nil {
		return ctrl.Result{}, err
	}
	var existing corev1alpha1.EndpointSliceList
	if err := r.List(ctx, &existing, client.InNamespace(svc.Namespace),
		client.MatchingLabels{LabelServiceName: svc.Name, LabelManagedBy: ManagedBy}, client.UnsafeDisableDeepCopy); err != nil {
		return ctrl.Result{}, err
	}
	p := planSlices(svc, ptrs(existing.Items), desiredGroups(svc, ptrs(pods.Items)))
	return ctrl.Result{}, r.write(ctx, key, p)
}

// write carries out p, expecting its creations and deletions first. A conflicting
// update is left to the newer slice's watch event.
func (r *Reconciler) write(ctx context.Context, key string, p plan) error {
	if len(p.create)+len(p.update)+len(p.delete) == 0 {
		return nil
	}
	// Only slices the Service controls have their deletion observed by sliceEvents.
	var deleted []string
	for _, s := range p.delete {
		if owner, ok := controllingService(s); ok && owner.String() == key {
			deleted = append(deleted, client.ObjectKeyFromObject(s).String())
		}
	}
	r.expectations.Expect(key, len(p.create), deleted)
	var errs []error
	for _, s := range p.create {
		if err := r.Create(ctx, s); err != nil {
			r.expectations.CreationObserved(key)
			errs = append(errs, fmt.Errorf("creating an EndpointSlice: %w", err))
		}
	}
	for _, s := range p.update {
		if err := r.Update(ctx, s); err != nil && !apierrors.IsConflict(err) && !apierrors.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("updating EndpointSlice %s: %w", s.Name, err))
		}
	}
	for _, s := range p.delete {
		if err := r.Delete(ctx, s); err != nil && !apierrors.IsNotFound(err) {
			r.expectations.DeletionObserved(key, client.ObjectKeyFromObject(s).String())
			errs = append(errs, fmt.Errorf("deleting EndpointSlice %s: %w", s.Name, err))
		}
	}
	log.FromContext(ctx).V(1).Info("Wrote EndpointSlices", "created", len(p.create), "updated", len(p.update), "deleted", len(p.delete))
	return errors.Join(errs...)
}

// ptrs points at each item of a list.
func ptrs[T any](items []T) []*T {
	out := make([]*T, len(items))
	for i := range items {
		out[i] = &items[i]
	}
	return out
}
