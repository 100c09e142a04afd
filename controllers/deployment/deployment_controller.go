package deployment

import (
	"context"
	"sort"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	appsv1alpha1 "github.com/kybern/kybern/api/apps/v1alpha1"
	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
	"github.com/kybern/kybern/controllers/internal/claim"
	"github.com/kybern/kybern/controllers/internal/configsnapshot"
	"github.com/kybern/kybern/controllers/internal/setup"
	"github.com/kybern/kybern/controllers/internal/specvalidation"
)

// Reconciler reconciles Deployments.
type Reconciler struct {
	client.Client
	// APIReader reads around the cache, to confirm an owner before adopting for it.
	APIReader client.Reader
	Recorder  record.EventRecorder
	Clock     clock.PassiveClock
	// Snapshots versions the configuration of Deployments with configPolicy Snapshot.
	Snapshots *configsnapshot.Snapshotter
}

// SetupWithManager registers the controller; cfg.Concurrency is how many Deployments it
// reconciles at once. ReplicaSet events wake their Deployment; so does a pod that is gone
// or finished, since a Recreate rollout waits for the old pods to stop, and a pod whose
// restart count changed, which the rollback policy's crash-loop trigger counts; and a
// change to a ConfigMap or Secret that a Deployment with configPolicy Snapshot references.
func SetupWithManager(ctx context.Context, mgr ctrl.Manager, cfg setup.Config) error {
	r := &Reconciler{Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), Recorder: cfg.Recorder, Clock: cfg.Clock}
	b := ctrl.NewControllerManagedBy(mgr).
		For(&appsv1alpha1.Deployment{}).
		Watches(&appsv1alpha1.ReplicaSet{}, handler.EnqueueRequestsFromMapFunc(r.deploymentsOfReplicaSet)).
		Watches(&corev1alpha1.Pod{}, handler.EnqueueRequestsFromMapFunc(r.deploymentOfPod), builder.WithPredicates(podEvents))
	var err error
	r.Snapshots, b, err = configsnapshot.Setup(ctx, mgr, b, &appsv1alpha1.Deployment{}, func() client.ObjectList { return &appsv1alpha1.DeploymentList{} },
		func(o client.Object) (appsv1alpha1.ConfigPolicy, *corev1.PodTemplateSpec) {
			d := o.(*appsv1alpha1.Deployment)
			return d.Spec.ConfigPolicy, &d.Spec.Template
		})
	if err != nil {
		return err
	}
	return b.
		WithOptions(controller.Options{MaxConcurrentReconciles: cfg.Concurrency}).
		Named("deployment").
		Complete(r)
}

// +kubebuilder:rbac:groups=apps.kybern.io,resources=deployments,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=apps.kybern.io,resources=deployments/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=apps.kybern.io,resources=deployments/finalizers,verbs=update
// +kubebuilder:rbac:groups=apps.kybern.io,resources=replicasets,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups="",resources=configmaps;secrets,verbs=get;list;watch;create;patch

// conflictRetry is how soon a reconcile whose write conflicted runs again, if no watch
// event of the newer object brings it back sooner.
const conflictRetry = time.Second

// Reconcile moves one Deployment a step along its rollout and writes its status.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	result, err := r.reconcile(ctx, req)
	if apierrors.IsConflict(err) {
		// The Deployment or a ReplicaSet changed since the cache showed it; the watch event
		// of the newer version brings this reconcile back.
		ctrl.LoggerFrom(ctx).V(1).Info("Write conflicted; trying again with the newer object", "error", err.Error())
		return ctrl.Result{RequeueAfter: conflictRetry}, nil
	}
	return result, err
}

func (r *Reconciler) reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	d := &appsv1alpha1.Deployment{}
	if err := r.Get(ctx, req.NamespacedName, d); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if refused, err := specvalidation.Guard(ctx, r.Client, r.Recorder, d, r.Clock.Now()); refused || err != nil {
		return ctrl.Result{}, err
	}
	selector, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil || selector.Empty() {
		// The CRD's rules refuse such a selector; one that slipped past cannot be fixed by
		// retrying, only by the user.
		r.Recorder.Eventf(d, "Warning", "SelectingAll", "This deployment is selecting all pods: a non-empty spec.selector is required")
		return ctrl.Result{}, nil
	}
	rsList, err := r.claimReplicaSets(ctx, d, selector)
	if err != nil {
		return ctrl.Result{}, err
	}
	s := newSyncer(r, d, rsList)

	if d.DeletionTimestamp != nil {
		return ctrl.Result{}, s.syncStatusOnly(ctx)
	}
	if err := s.resolveTemplate(ctx); err != nil {
		return ctrl.Result{}, err
	}
	s.holdRollback()
	s.checkPausedConditions()
	if d.Spec.Paused || s.isScalingEvent() {
		return ctrl.Result{}, s.sync(ctx)
	}
	fired, recheck, err := s.judgeRollout(ctx)
	if err != nil {
		return ctrl.Result{}, s.finishWithError(ctx, err)
	}
	if fired != "" {
		return ctrl.Result{}, s.startRollback(ctx, fired)
	}
	var result ctrl.Result
	if isRollingUpdate(d) {
		result, err = s.rolloutRolling(ctx)
	} else {
		result, err = s.rolloutRecreate(ctx)
	}
	if recheck > 0 && (result.RequeueAfter == 0 || recheck < result.RequeueAfter) {
		result.RequeueAfter = recheck
	}
	return result, err
}

// claimReplicaSets returns the ReplicaSets d controls, oldest first, after adopting
// matching orphans and releasing those that stopped matching.
func (r *Reconciler) claimReplicaSets(ctx context.Context, d *appsv1alpha1.Deployment, selector labels.Selector) ([]*appsv1alpha1.ReplicaSet, error) {
	var list appsv1alpha1.ReplicaSetList
	if err := r.List(ctx, &list, client.InNamespace(d.Namespace)); err != nil {
		return nil, err
	}
	all := make([]*appsv1alpha1.ReplicaSet, len(list.Items))
	for i := range list.Items {
		all[i] = &list.Items[i]
	}
	owned, err := claim.Claim(ctx, claim.Owner{
		Object: d, GVK: appsv1alpha1.GroupVersion.WithKind("Deployment"), Selector: selector,
		Writer: r.Client, Fresh: r.APIReader,
	}, all)
	sort.SliceStable(owned, func(i, j int) bool { return olderRS(owned[i], owned[j]) })
	return owned, err
}

// olderRS orders ReplicaSets by creation time, then name.
func olderRS(a, b *appsv1alpha1.ReplicaSet) bool {
	if a.CreationTimestamp.Equal(&b.CreationTimestamp) {
		return a.Name < b.Name
	}
	return a.CreationTimestamp.Before(&b.CreationTimestamp)
}

// deploymentsOfReplicaSet maps a ReplicaSet to the Deployment controlling it or, for an
// orphan, to every Deployment whose selector matches it, so that one adopts it.
func (r *Reconciler) deploymentsOfReplicaSet(ctx context.Context, obj client.Object) []ctrl.Request {
	if ref := metav1.GetControllerOfNoCopy(obj); ref != nil {
		if ref.Kind != "Deployment" || ref.APIVersion != appsv1alpha1.GroupVersion.String() {
			return nil
		}
		return []ctrl.Request{{NamespacedName: client.ObjectKey{Namespace: obj.GetNamespace(), Name: ref.Name}}}
	}
	var list appsv1alpha1.DeploymentList
	if err := r.List(ctx, &list, client.InNamespace(obj.GetNamespace()), client.UnsafeDisableDeepCopy); err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "Listing Deployments for an orphan ReplicaSet", "replicaSet", client.ObjectKeyFromObject(obj))
		return nil
	}
	var out []ctrl.Request
	for i := range list.Items {
		sel, err := metav1.LabelSelectorAsSelector(list.Items[i].Spec.Selector)
		if err == nil && !sel.Empty() && sel.Matches(labels.Set(obj.GetLabels())) {
			out = append(out, ctrl.Request{NamespacedName: client.ObjectKeyFromObject(&list.Items[i])})
		}
	}
	return out
}

// podEvents passes the pod events a Recreate rollout waits for (deletion, and reaching a
// terminal phase) and those the crash-loop trigger counts (a restart).
var podEvents = predicate.Funcs{
	CreateFunc:  func(event.CreateEvent) bool { return false },
	DeleteFunc:  func(event.DeleteEvent) bool { return true },
	GenericFunc: func(event.GenericEvent) bool { return false },
	UpdateFunc: func(e event.UpdateEvent) bool {
		old, cur := e.ObjectOld.(*corev1alpha1.Pod), e.ObjectNew.(*corev1alpha1.Pod)
		finished := old.Status.Phase != cur.Status.Phase && (cur.Status.Phase == corev1.PodSucceeded || cur.Status.Phase == corev1.PodFailed)
		return finished || restartsChanged(old, cur)
	},
}

// deploymentOfPod maps a pod to the Deployment controlling its ReplicaSet, when that
// Deployment waits on its pods: a Recreate one, or one with a rollback policy.
func (r *Reconciler) deploymentOfPod(ctx context.Context, obj client.Object) []ctrl.Request {
	ref := metav1.GetControllerOfNoCopy(obj)
	if ref == nil || ref.Kind != "ReplicaSet" || ref.APIVersion != appsv1alpha1.GroupVersion.String() {
		return nil
	}
	rs := &appsv1alpha1.ReplicaSet{}
	if err := r.Get(ctx, client.ObjectKey{Namespace: obj.GetNamespace(), Name: ref.Name}, rs); err != nil {
		if !apierrors.IsNotFound(err) {
			ctrl.LoggerFrom(ctx).Error(err, "Reading the ReplicaSet of a pod", "pod", client.ObjectKeyFromObject(obj))
		}
		return nil
	}
	owner := metav1.GetControllerOfNoCopy(rs)
	if owner == nil || owner.Kind != "Deployment" || owner.APIVersion != appsv1alpha1.GroupVersion.String() {
		return nil
	}
	d := &appsv1alpha1.Deployment{}
	key := client.ObjectKey{Namespace: rs.Namespace, Name: owner.Name}
	if err := r.Get(ctx, key, d); err != nil || (isRollingUpdate(d) && d.Spec.RollbackPolicy == nil) {
		return nil
	}
	return []ctrl.Request{{NamespacedName: key}}
}
