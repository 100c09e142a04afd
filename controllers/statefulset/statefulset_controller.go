package statefulset

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/clock"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"

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

var gvk = appsv1alpha1.GroupVersion.WithKind("StatefulSet")

// Reconciler reconciles StatefulSets.
type Reconciler struct {
	client.Client
	// APIReader reads around the cache, to confirm an owner before adopting for it and to
	// look at a revision whose name is taken.
	APIReader client.Reader
	Recorder  record.EventRecorder
	Clock     clock.PassiveClock
	// Snapshots versions the configuration of StatefulSets with configPolicy Snapshot.
	Snapshots *configsnapshot.Snapshotter

	expectations *expectations.Expectations
}

// NewReconciler returns a Reconciler with fresh expectations on clk.
func NewReconciler(c client.Client, apiReader client.Reader, recorder record.EventRecorder, clk clock.PassiveClock) *Reconciler {
	return &Reconciler{Client: c, APIReader: apiReader, Recorder: recorder, Clock: clk,
		expectations: expectations.New(clk, expectations.DefaultTTL)}
}

// SetupWithManager registers the controller; cfg.Concurrency is how many StatefulSets it
// reconciles at once. Pods wake their StatefulSet; a claim wakes the sets whose selector
// its labels match, so that a pod waiting for a stale claim to go is created once it has;
// and a change to a ConfigMap or Secret that a set with configPolicy Snapshot references.
func SetupWithManager(ctx context.Context, mgr ctrl.Manager, cfg setup.Config) error {
	r := NewReconciler(mgr.GetClient(), mgr.GetAPIReader(), cfg.Recorder, cfg.Clock)
	b := ctrl.NewControllerManagedBy(mgr).
		For(&appsv1alpha1.StatefulSet{}).
		Owns(&appsv1.ControllerRevision{}).
		Watches(&corev1alpha1.Pod{}, &podevents.Handler{Owner: gvk, Expectations: r.expectations,
			Selecting: func(ctx context.Context, p *corev1alpha1.Pod) []ctrl.Request {
				return setsSelecting(ctx, mgr.GetCache(), p)
			}}).
		Watches(&corev1.PersistentVolumeClaim{}, handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, o client.Object) []ctrl.Request {
			return setsSelecting(ctx, mgr.GetCache(), o)
		}))
	var err error
	r.Snapshots, b, err = configsnapshot.Setup(ctx, mgr, b, &appsv1alpha1.StatefulSet{}, func() client.ObjectList { return &appsv1alpha1.StatefulSetList{} },
		func(o client.Object) (appsv1alpha1.ConfigPolicy, *corev1.PodTemplateSpec) {
			set := o.(*appsv1alpha1.StatefulSet)
			return set.Spec.ConfigPolicy, &set.Spec.Template
		})
	if err != nil {
		return err
	}
	return b.
		WithOptions(controller.Options{MaxConcurrentReconciles: cfg.Concurrency}).
		Named("statefulset").
		Complete(r)
}

// +kubebuilder:rbac:groups=apps.kybern.io,resources=statefulsets,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=apps.kybern.io,resources=statefulsets/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=apps.kybern.io,resources=statefulsets/finalizers,verbs=update
// +kubebuilder:rbac:groups=core.kybern.io,resources=pods,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups="",resources=persistentvolumeclaims,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=apps,resources=controllerrevisions,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups="",resources=configmaps;secrets,verbs=get;list;watch;create;patch

// Reconcile brings one StatefulSet's pods and claims to its spec, rolls them to its
// current template, and writes its status.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	key := req.String()
	set := &appsv1alpha1.StatefulSet{}
	if err := r.Get(ctx, req.NamespacedName, set); err != nil {
		if apierrors.IsNotFound(err) {
			r.expectations.Forget(key)
			return ctrl.Result{}, nil
		}
		return ctrl.Result{}, err
	}
	if set.DeletionTimestamp != nil {
		// The garbage collector removes its pods, revisions and the claims it owns.
		return ctrl.Result{}, nil
	}
	if refused, err := specvalidation.Guard(ctx, r.Client, r.Recorder, set, r.Clock.Now()); refused || err != nil {
		return ctrl.Result{}, err
	}
	// The CRD's rules refuse the selectors below; one that slipped past cannot be fixed by
	// retrying, only by the user.
	selector, err := metav1.LabelSelectorAsSelector(set.Spec.Selector)
	if err != nil {
		r.Recorder.Eventf(set, corev1.EventTypeWarning, "InvalidSelector", "Invalid spec.selector: %v", err)
		return ctrl.Result{}, nil
	}
	if selector.Empty() {
		r.Recorder.Event(set, corev1.EventTypeWarning, "SelectingAll", "This stateful set is selecting all pods. A non-empty selector is required.")
		return ctrl.Result{}, nil
	}
	// Read before the cache: writes seen after this point are seen by the next reconcile.
	satisfied := r.expectations.Satisfied(key)

	pods, err := r.claimPods(ctx, set, selector)
	if err != nil {
		return ctrl.Result{}, err
	}
	spec, snaps, err := r.Snapshots.Resolve(ctx, r.Recorder, configsnapshot.Workload{Object: set, GVK: gvk, Policy: set.Spec.ConfigPolicy, Template: &set.Spec.Template})
	if err != nil {
		return ctrl.Result{}, err
	}
	update, old, err := history.Sync(ctx, r.Client, r.APIReader, history.Owner{Object: set, GVK: gvk, Selector: selector,
		Template: spec, CollisionCount: set.Status.CollisionCount})
	if errors.Is(err, history.ErrHashCollision) {
		return ctrl.Result{}, r.bumpCollisionCount(ctx, set)
	}
	if err != nil {
		return ctrl.Result{}, fmt.Errorf("constructing history: %w", err)
	}
	// update records spec, whether or not a rollback holds the stable revision as target.
	if err := r.Snapshots.HandTo(ctx, set, snaps, update, history.RevisionGVK); err != nil {
		return ctrl.Result{}, err
	}
	current := currentRevision(set, update, old)
	now := r.Clock.Now()
	rp := planRollback(set, pods, update, old, now)
	var claims corev1.PersistentVolumeClaimList
	if err := r.List(ctx, &claims, client.InNamespace(set.Namespace), client.UnsafeDisableDeepCopy); err != nil {
		return ctrl.Result{}, err
	}
	o := observe(set, pods, claimsByName(claims.Items), current.Name, rp.target.Name, now)

	// A rollback is recorded in status before it is acted on: a reconcile that saw the set
	// from before the record would roll the pods forward again. The status write wakes the
	// set to act.
	act := satisfied && rp.rolledBack == nil
	var syncErr error
	if act {
		pl := planSync(o)
		if pl.waiting != "" {
			log.FromContext(ctx).V(1).Info("Waiting", "for", pl.waiting)
		}
		syncErr = errors.Join(r.sync(ctx, o, pl, current, rp.target, update, spec),
			r.pruneHistory(ctx, set, pods, old, current, update, rp))
	}
	status := calculateStatus(set, pods, current.Name, rp.target.Name, set.Status.CollisionCount, selector.String(), o.now, act)
	rp.apply(set, &status)
	written, err := r.writeStatus(ctx, set, status)
	if written {
		r.reportRollback(ctx, set, update, rp)
	}
	if err != nil || syncErr != nil {
		return ctrl.Result{}, errors.Join(syncErr, err)
	}
	return ctrl.Result{RequeueAfter: soonest(nextCheck(set, pods, o.now), rp.recheck)}, nil
}

// claimPods lists the pods of set's namespace and returns those named as its members that
// it controls once it has adopted and released what it should. Pods named otherwise are
// neither adopted nor released, as upstream's.
func (r *Reconciler) claimPods(ctx context.Context, set *appsv1alpha1.StatefulSet, selector labels.Selector) ([]*corev1alpha1.Pod, error) {
	var list corev1alpha1.PodList
	if err := r.List(ctx, &list, client.InNamespace(set.Namespace), client.UnsafeDisableDeepCopy); err != nil {
		return nil, err
	}
	var members []*corev1alpha1.Pod
	for i := range list.Items {
		if _, ok := ordinalOf(set.Name, list.Items[i].Name); ok {
			members = append(members, &list.Items[i])
		}
	}
	return claim.Claim(ctx, claim.Owner{Object: set, GVK: gvk, Selector: selector, Writer: r.Client, Fresh: r.APIReader}, members)
}

// currentRevision is the revision status.currentRevision names, or update when it names
// none that exists (a new set, or history pruned under it).
func currentRevision(set *appsv1alpha1.StatefulSet, update *appsv1.ControllerRevision, old []*appsv1.ControllerRevision) *appsv1.ControllerRevision {
	if i := slices.IndexFunc(old, func(r *appsv1.ControllerRevision) bool { return r.Name == set.Status.CurrentRevision }); i >= 0 {
		return old[i]
	}
	return update
}

// observe sorts set's pods by ordinal into those in range and the condemned, highest
// ordinal first.
func observe(set *appsv1alpha1.StatefulSet, pods []*corev1alpha1.Pod, claims map[string]*corev1.PersistentVolumeClaim, current, update string, now time.Time) *observed {
	o := &observed{set: set, replicas: make([]*corev1alpha1.Pod, replicas(set)), claims: claims, current: current, update: update, now: now}
	start := startOrdinal(set)
	for _, p := range pods {
		ord, _ := ordinalOf(set.Name, p.Name)
		if inRange(set, ord) {
			o.replicas[ord-start] = p
		} else {
			o.condemned = append(o.condemned, p)
		}
	}
	slices.SortFunc(o.condemned, func(a, b *corev1alpha1.Pod) int {
		oa, _ := ordinalOf(set.Name, a.Name)
		ob, _ := ordinalOf(set.Name, b.Name)
		return ob - oa
	})
	return o
}

// sync carries out pl with the templates of the current revision and of target, the
// revision rolled to: update, which records spec (spec.template as configsnapshot resolved
// resolved it), unless a rollback holds.
func (r *Reconciler) sync(ctx context.Context, o *observed, pl plan, current, target, update *appsv1.ControllerRevision,
	spec *corev1.PodTemplateSpec) error {
	if len(pl.stages) == 0 {
		return nil
	}
	cur, err := history.Template(current)
	if err != nil {
		return err
	}
	upd := spec
	if target != update {
		if upd, err = history.Template(target); err != nil {
			return err
		}
	}
	return r.execute(ctx, o, pl, templates{current: cur, update: upd})
}

// pruneHistory deletes the oldest revisions beyond spec.revisionHistoryLimit among those
// neither current, nor the update revision, nor run by a pod, as upstream's, nor the
// revision rolled to, nor the stable and failed revisions of status.rollback.
func (r *Reconciler) pruneHistory(ctx context.Context, set *appsv1alpha1.StatefulSet, pods []*corev1alpha1.Pod,
	old []*appsv1.ControllerRevision, current, update *appsv1.ControllerRevision, rp rollbackPlan) error {
	live := map[string]bool{current.Name: true, update.Name: true, rp.target.Name: true}
	if st := rp.status; st != nil {
		live[st.StableRevision], live[st.FailedRevision] = true, true
	}
	for _, p := range pods {
		live[p.Labels[RevisionHashLabel]] = true
	}
	var idle []*appsv1.ControllerRevision
	for _, rev := range old {
		if !live[rev.Name] {
			idle = append(idle, rev)
		}
	}
	return history.Prune(ctx, r.Client, idle, int(ptr.Deref(set.Spec.RevisionHistoryLimit, 10)),
		func(*appsv1.ControllerRevision) bool { return false })
}

// writeStatus writes status when it differs from set's, and reports whether it did. An
// update, not a merge patch: a patch leaves out fields whose value did not change, and a
// status that lacks a required field is refused.
func (r *Reconciler) writeStatus(ctx context.Context, set *appsv1alpha1.StatefulSet, status appsv1alpha1.StatefulSetStatus) (bool, error) {
	if apiequality.Semantic.DeepEqual(status, set.Status) {
		return false, nil
	}
	set.Status = status
	switch err := r.Status().Update(ctx, set); {
	case apierrors.IsConflict(err):
		// A newer StatefulSet exists; its watch event brings this reconcile back.
		log.FromContext(ctx).V(1).Info("Status update conflicted; waiting for the newer StatefulSet")
		return false, nil
	case err != nil:
		return false, fmt.Errorf("updating status: %w", err)
	}
	log.FromContext(ctx).V(1).Info("Updated status", "replicas", status.Replicas, "ready", status.ReadyReplicas,
		"current", status.CurrentReplicas, "updated", status.UpdatedReplicas, "updateRevision", status.UpdateRevision)
	return true, nil
}

// bumpCollisionCount writes set's status with collisionCount one higher, so that the next
// reconcile names the update revision with another hash.
func (r *Reconciler) bumpCollisionCount(ctx context.Context, set *appsv1alpha1.StatefulSet) error {
	status := *set.Status.DeepCopy()
	status.CollisionCount = ptr.To(ptr.Deref(status.CollisionCount, 0) + 1)
	log.FromContext(ctx).Info("Found a hash collision; bumping collisionCount", "collisionCount", *status.CollisionCount)
	_, err := r.writeStatus(ctx, set, status)
	return err
}
