package replicaset

import (
	"context"
	"fmt"

	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/log"

	appsv1alpha1 "github.com/kybern/kybern/api/apps/v1alpha1"
	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
	"github.com/kybern/kybern/controllers/internal/claim"
	"github.com/kybern/kybern/controllers/internal/expectations"
	"github.com/kybern/kybern/controllers/internal/placement"
	"github.com/kybern/kybern/controllers/internal/podevents"
	"github.com/kybern/kybern/controllers/internal/podutil"
	"github.com/kybern/kybern/controllers/internal/setup"
	"github.com/kybern/kybern/controllers/internal/specvalidation"
)

// BurstReplicas caps the pods one reconcile creates or deletes, as upstream's.
const BurstReplicas = 500

// Reconciler reconciles ReplicaSets.
type Reconciler struct {
	client.Client
	// APIReader reads around the cache, to confirm an owner before adopting for it.
	APIReader client.Reader
	Recorder  record.EventRecorder
	Clock     clock.PassiveClock
	// Placer, when set, picks each new pod's node so that the pod is created bound.
	Placer placement.Placer

	expectations *expectations.Expectations
}

// NewReconciler returns a Reconciler with fresh expectations.
func NewReconciler(c client.Client, apiReader client.Reader, recorder record.EventRecorder, clk clock.PassiveClock) *Reconciler {
	return &Reconciler{Client: c, APIReader: apiReader, Recorder: recorder, Clock: clk,
		expectations: expectations.New(clk, expectations.DefaultTTL)}
}

// SetupWithManager registers the controller; cfg.Concurrency is how many ReplicaSets it
// reconciles at once, and its pods are created bound through cfg.Placement.
func SetupWithManager(_ context.Context, mgr ctrl.Manager, cfg setup.Config) error {
	r := NewReconciler(mgr.GetClient(), mgr.GetAPIReader(), cfg.Recorder, cfg.Clock)
	r.Placer = cfg.Placement
	return ctrl.NewControllerManagedBy(mgr).
		For(&appsv1alpha1.ReplicaSet{}).
		Watches(&corev1alpha1.Pod{}, &podevents.Handler{Owner: appsv1alpha1.GroupVersion.WithKind("ReplicaSet"), Expectations: r.expectations, Selecting: selecting(mgr.GetCache())}).
		WithOptions(controller.Options{MaxConcurrentReconciles: cfg.Concurrency}).
		Named("replicaset").
		Complete(r)
}

// +kubebuilder:rbac:groups=apps.kybern.io,resources=replicasets,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=apps.kybern.io,resources=replicasets/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=apps.kybern.io,resources=replicasets/finalizers,verbs=update
// +kubebuilder:rbac:groups=core.kybern.io,resources=pods,verbs=get;list;watch;create;update;patch;delete

// Reconcile brings one ReplicaSet's pods to spec.replicas and writes its status.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	key := req.String()
	rs := &appsv1alpha1.ReplicaSet{}
	if err := r.Get(ctx, req.NamespacedName, rs); err != nil {
		if apierrors.IsNotFound(err) {
			r.expectations.Forget(key)
			return ctrl.Result{}, nil
		}
		return ctrl.Result{}, err
	}
	if refused, err := specvalidation.Guard(ctx, r.Client, r.Recorder, rs, r.Clock.Now()); refused || err != nil {
		return ctrl.Result{}, err
	}
	logger := log.FromContext(ctx)
	selector, err := metav1.LabelSelectorAsSelector(rs.Spec.Selector)
	if err != nil {
		// The CRD's rules refuse such a selector; one that slipped past cannot be fixed by
		// retrying, only by the user.
		r.Recorder.Eventf(rs, "Warning", "InvalidSelector", "Invalid spec.selector: %v", err)
		return ctrl.Result{}, nil
	}
	needsSync := r.expectations.Satisfied(key)

	var all corev1alpha1.PodList
	if err := r.List(ctx, &all, client.InNamespace(rs.Namespace), client.UnsafeDisableDeepCopy); err != nil {
		return ctrl.Result{}, err
	}
	var active []*corev1alpha1.Pod
	var terminating int32
	for i := range all.Items {
		p := &all.Items[i]
		switch {
		case podutil.IsActive(p):
			active = append(active, p)
		case podutil.IsTerminating(p) && metav1.IsControlledBy(p, rs) && selector.Matches(labelSet(p)):
			terminating++
		}
	}
	pods, err := claim.Claim(ctx, claim.Owner{
		Object: rs, GVK: appsv1alpha1.GroupVersion.WithKind("ReplicaSet"), Selector: selector,
		Writer: r.Client, Fresh: r.APIReader,
	}, active)
	if err != nil {
		return ctrl.Result{}, err
	}

	var manageErr error
	if needsSync && rs.DeletionTimestamp == nil {
		manageErr = r.manageReplicas(ctx, rs, pods, active)
	}

	now := r.Clock.Now()
	status := calculateStatus(rs, pods, terminating, manageErr, now)
	if !apiequality.Semantic.DeepEqual(status, rs.Status) {
		// An update, not a merge patch: a patch leaves out fields whose value did not change,
		// and a status that lacks the required replicas field is refused.
		rs.Status = status
		switch err := r.Status().Update(ctx, rs); {
		case apierrors.IsConflict(err):
			// A newer ReplicaSet exists; its watch event brings this reconcile back.
			logger.V(1).Info("Status update conflicted; waiting for the newer ReplicaSet")
		case err != nil:
			return ctrl.Result{}, fmt.Errorf("updating status: %w", err)
		}
		logger.V(1).Info("Updated status", "replicas", status.Replicas, "ready", status.ReadyReplicas, "available", status.AvailableReplicas)
	}
	if manageErr != nil {
		return ctrl.Result{}, manageErr
	}
	if wait, ok := nextAvailable(rs, pods, now); ok {
		return ctrl.Result{RequeueAfter: wait}, nil
	}
	return ctrl.Result{}, nil
}
