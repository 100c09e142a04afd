package daemonset

import (
	"context"
	"errors"
	"fmt"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/flowcontrol"
	"k8s.io/utils/clock"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/manager"

	appsv1alpha1 "github.com/kybern/kybern/api/apps/v1alpha1"
	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
	"github.com/kybern/kybern/controllers/internal/claim"
	"github.com/kybern/kybern/controllers/internal/configsnapshot"
	"github.com/kybern/kybern/controllers/internal/expectations"
	"github.com/kybern/kybern/controllers/internal/history"
	"github.com/kybern/kybern/controllers/internal/podevents"
	"github.com/kybern/kybern/controllers/internal/setup"
	"github.com/kybern/kybern/controllers/internal/specvalidation"
)

var gvk = appsv1alpha1.GroupVersion.WithKind("DaemonSet")

// Upstream's backoff for replacing a failed daemon pod on one node: 1 s, doubling, up to
// 15 min; entries unused for twice the maximum are dropped every backoffGCInterval.
const (
	failedPodBackoffInitial = time.Second
	failedPodBackoffMax     = 15 * time.Minute
	backoffGCInterval       = time.Minute
)

// Reconciler reconciles DaemonSets.
type Reconciler struct {
	client.Client
	// APIReader reads around the cache, to confirm an owner before adopting for it and to
	// look at a revision whose name is taken.
	APIReader client.Reader
	Recorder  record.EventRecorder
	// Clock is a full clock, not a passive one, as the failed-pod backoff needs.
	Clock clock.Clock
	// Snapshots versions the configuration of DaemonSets with configPolicy Snapshot.
	Snapshots *configsnapshot.Snapshotter

	expectations *expectations.Expectations
	// failedBackoff spaces out the deletion of failed pods, per DaemonSet and node.
	failedBackoff *flowcontrol.Backoff
}

// NewReconciler returns a Reconciler with fresh expectations and backoff, both on clk.
func NewReconciler(c client.Client, apiReader client.Reader, recorder record.EventRecorder, clk clock.Clock) *Reconciler {
	return &Reconciler{Client: c, APIReader: apiReader, Recorder: recorder, Clock: clk,
		expectations:  expectations.New(clk, expectations.DefaultTTL),
		failedBackoff: newFailedBackoff(clk)}
}

func newFailedBackoff(clk clock.Clock) *flowcontrol.Backoff {
	b := flowcontrol.NewBackOff(failedPodBackoffInitial, failedPodBackoffMax)
	b.Clock = clk
	return b
}

// SetupWithManager registers the controller; cfg.Concurrency is how many DaemonSets it
// reconciles at once. Pods wake their DaemonSet; a node that comes, goes or changes its
// labels or taints wakes every DaemonSet; a change to a ConfigMap or Secret wakes the
// DaemonSets with configPolicy Snapshot that reference it.
func SetupWithManager(ctx context.Context, mgr ctrl.Manager, cfg setup.Config) error {
	r := NewReconciler(mgr.GetClient(), mgr.GetAPIReader(), cfg.Recorder, cfg.Clock)
	if err := mgr.Add(manager.RunnableFunc(func(ctx context.Context) error {
		wait.UntilWithContext(ctx, func(context.Context) { r.failedBackoff.GC() }, backoffGCInterval)
		return nil
	})); err != nil {
		return err
	}
	b := ctrl.NewControllerManagedBy(mgr).
		For(&appsv1alpha1.DaemonSet{}).
		Owns(&appsv1.ControllerRevision{}).
		Watches(&corev1alpha1.Pod{}, &podevents.Handler{Owner: gvk, Expectations: r.expectations, Selecting: selectingPod(mgr.GetCache())}).
		Watches(&corev1alpha1.Node{}, &nodeEvents{reader: mgr.GetCache()})
	var err error
	r.Snapshots, b, err = configsnapshot.Setup(ctx, mgr, b, &appsv1alpha1.DaemonSet{}, func() client.ObjectList { return &appsv1alpha1.DaemonSetList{} },
		func(o client.Object) (appsv1alpha1.ConfigPolicy, *corev1.PodTemplateSpec) {
			ds := o.(*appsv1alpha1.DaemonSet)
			return ds.Spec.ConfigPolicy, &ds.Spec.Template
		})
	if err != nil {
		return err
	}
	return b.
		WithOptions(controller.Options{MaxConcurrentReconciles: cfg.Concurrency}).
		Named("daemonset").
		Complete(r)
}

// +kubebuilder:rbac:groups=apps.kybern.io,resources=daemonsets,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=apps.kybern.io,resources=daemonsets/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=apps.kybern.io,resources=daemonsets/finalizers,verbs=update
// +kubebuilder:rbac:groups=core.kybern.io,resources=pods,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=core.kybern.io,resources=nodes,verbs=get;list;watch
// +kubebuilder:rbac:groups=apps,resources=controllerrevisions,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups="",resources=configmaps;secrets,verbs=get;list;watch;create;patch

// Reconcile brings one DaemonSet's pods to one per fitting node, rolls them to its current
// template, and writes its status.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	key := req.String()
	ds := &appsv1alpha1.DaemonSet{}
	if err := r.Get(ctx, req.NamespacedName, ds); err != nil {
		if apierrors.IsNotFound(err) {
			r.expectations.Forget(key)
			return ctrl.Result{}, nil
		}
		return ctrl.Result{}, err
	}
	if ds.DeletionTimestamp != nil {
		// The garbage collector removes its pods and revisions.
		return ctrl.Result{}, nil
	}
	if refused, err := specvalidation.Guard(ctx, r.Client, r.Recorder, ds, r.Clock.Now()); refused || err != nil {
		return ctrl.Result{}, err
	}
	// The CRD's rules refuse the selectors below; one that slipped past cannot be fixed by
	// retrying, only by the user.
	selector, err := metav1.LabelSelectorAsSelector(ds.Spec.Selector)
	if err != nil {
		r.Recorder.Eventf(ds, corev1.EventTypeWarning, "InvalidSelector", "Invalid spec.selector: %v", err)
		return ctrl.Result{}, nil
	}
	if selector.Empty() {
		r.Recorder.Event(ds, corev1.EventTypeWarning, "SelectingAll", "This daemon set is selecting all pods. A non-empty selector is required.")
		return ctrl.Result{}, nil
	}
	// Read before the cache: writes seen after this point are seen by the next reconcile.
	satisfied := r.expectations.Satisfied(key)

	// Nodes and pods are read straight from the cache, never written to.
	var nodes corev1alpha1.NodeList
	if err := r.List(ctx, &nodes, client.UnsafeDisableDeepCopy); err != nil {
		return ctrl.Result{}, err
	}
	pods, err := r.claimPods(ctx, ds, selector)
	if err != nil {
		return ctrl.Result{}, err
	}
	spec, snaps, err := r.Snapshots.Resolve(ctx, r.Recorder, configsnapshot.Workload{Object: ds, GVK: gvk, Policy: ds.Spec.ConfigPolicy, Template: &ds.Spec.Template})
	if err != nil {
		return ctrl.Result{}, err
	}
	cur, old, err := r.history(ctx, ds, selector, spec)
	if errors.Is(err, history.ErrHashCollision) {
		return ctrl.Result{}, r.bumpCollisionCount(ctx, ds)
	}
	if err != nil {
		return ctrl.Result{}, fmt.Errorf("constructing history: %w", err)
	}
	// cur records spec, whether or not a rollback holds the stable revision as target.
	if err := r.Snapshots.HandTo(ctx, ds, snaps, cur, history.RevisionGVK); err != nil {
		return ctrl.Result{}, err
	}
	byNode := podsByNode(pods)
	fits := fitNodes(ds, nodes.Items)
	now := r.Clock.Now()
	rb := decideRollback(ds, cur, old, pods, len(desiredNodes(fits)), now)
	if rb.started != "" {
		return ctrl.Result{}, r.startRollback(ctx, ds, cur, rb)
	}
	hash := rb.target.Labels[RevisionHashLabel]
	template, err := rb.template(spec, cur)
	if err != nil {
		return ctrl.Result{}, err
	}

	var pl plan
	var syncErr error
	if satisfied {
		pl = r.manage(ds, fits, byNode, hash, now)
		if pl.empty() && isRollingUpdate(ds) {
			pl.delete, pl.create = rollingUpdate(ds, desiredNodes(fits), byNode, hash, now)
		}
		syncErr = errors.Join(r.syncNodes(ctx, ds, pl, template, hash), r.cleanupHistory(ctx, ds, old, byNode))
	}
	status := calculateStatus(ds, fits, byNode, hash, now, satisfied)
	rb.apply(ds, cur, &status)
	if _, err := r.writeStatus(ctx, ds, status); err != nil || syncErr != nil {
		return ctrl.Result{}, errors.Join(syncErr, err)
	}
	next := nextCheck(ds, status, pl.retry)
	if rb.recheck > 0 && (next == 0 || rb.recheck < next) {
		next = rb.recheck
	}
	return ctrl.Result{RequeueAfter: next}, nil
}

// startRollback records the rollback rb decided, and only that: the reconcile the write
// wakes acts on it. The event follows a successful write, so that a decision a conflict
// discarded and a later reconcile takes again is told once.
func (r *Reconciler) startRollback(ctx context.Context, ds *appsv1alpha1.DaemonSet, cur *appsv1.ControllerRevision, rb rollbackDecision) error {
	status := *ds.Status.DeepCopy()
	rb.apply(ds, cur, &status)
	written, err := r.writeStatus(ctx, ds, status)
	if written {
		log.FromContext(ctx).Info("Rolling back a failed rollout", "failedRevision", cur.Name, "stableRevision", rb.status.StableRevision)
		r.Recorder.Event(ds, corev1.EventTypeWarning, appsv1alpha1.RolledBack, rb.started)
	}
	return err
}

// claimPods lists the pods of ds's namespace and returns those ds controls once it has
// adopted and released what it should.
func (r *Reconciler) claimPods(ctx context.Context, ds *appsv1alpha1.DaemonSet, selector labels.Selector) ([]*corev1alpha1.Pod, error) {
	var list corev1alpha1.PodList
	if err := r.List(ctx, &list, client.InNamespace(ds.Namespace), client.UnsafeDisableDeepCopy); err != nil {
		return nil, err
	}
	return claim.Claim(ctx, claim.Owner{Object: ds, GVK: gvk, Selector: selector, Writer: r.Client, Fresh: r.APIReader}, ptrs(list.Items))
}

// ptrs points at each item of a list.
func ptrs[T any](items []T) []*T {
	out := make([]*T, len(items))
	for i := range items {
		out[i] = &items[i]
	}
	return out
}

// podsByNode groups pods by the node each is for, leaving out pods that have terminated
// and are being deleted (nothing is left to do with them) and pods for no node.
func podsByNode(pods []*corev1alpha1.Pod) map[string][]*corev1alpha1.Pod {
	out := map[string][]*corev1alpha1.Pod{}
	for _, p := range pods {
		terminal := p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed
		if node := targetNode(p); node != "" && (!terminal || p.DeletionTimestamp == nil) {
			out[node] = append(out[node], p)
		}
	}
	return out
}

// writeStatus writes status when it differs from ds's. An update, not a merge patch: a
// patch leaves out fields whose value did not change, and a status that lacks a required
// field is refused.
func (r *Reconciler) writeStatus(ctx context.Context, ds *appsv1alpha1.DaemonSet, status appsv1alpha1.DaemonSetStatus) (written bool, err error) {
	if apiequality.Semantic.DeepEqual(status, ds.Status) {
		return false, nil
	}
	ds.Status = status
	switch err := r.Status().Update(ctx, ds); {
	case apierrors.IsConflict(err):
		// A newer DaemonSet exists; its watch event brings this reconcile back.
		log.FromContext(ctx).V(1).Info("Status update conflicted; waiting for the newer DaemonSet")
		return false, nil
	case err != nil:
		return false, fmt.Errorf("updating status: %w", err)
	}
	log.FromContext(ctx).V(1).Info("Updated status", "desired", status.DesiredNumberScheduled,
		"current", status.CurrentNumberScheduled, "updated", status.UpdatedNumberScheduled, "available", status.NumberAvailable)
	return true, nil
}

// bumpCollisionCount writes ds's status with collisionCount one higher, so that the next
// reconcile names the current revision with another hash.
func (r *Reconciler) bumpCollisionCount(ctx context.Context, ds *appsv1alpha1.DaemonSet) error {
	status := *ds.Status.DeepCopy()
	status.CollisionCount = ptr.To(ptr.Deref(status.CollisionCount, 0) + 1)
	log.FromContext(ctx).Info("Found a hash collision; bumping collisionCount", "collisionCount", *status.CollisionCount)
	_, err := r.writeStatus(ctx, ds, status)
	return err
}

// nextCheck is when to look at ds again without an event: when a failed pod's backoff
// ends, or, while some ready pods are not yet available, after minReadySeconds, as
// upstream; 0 when neither.
func nextCheck(ds *appsv1alpha1.DaemonSet, status appsv1alpha1.DaemonSetStatus, retry time.Duration) time.Duration {
	next := retry
	if ds.Spec.MinReadySeconds > 0 && status.NumberReady != status.NumberAvailable {
		wait := time.Duration(ds.Spec.MinReadySeconds) * time.Second
		if next == 0 || wait < next {
			next = wait
		}
	}
	return next
}
