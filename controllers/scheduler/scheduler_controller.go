package scheduler

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/source"

	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
	"github.com/kybern/kybern/controllers/internal/setup"
)

// unschedulableRetry is how often a pod that fits nowhere is tried again even when no
// node or pod event suggests it might fit now, as upstream's periodic flush.
const unschedulableRetry = 5 * time.Minute

// syncRetry is how soon a pod is tried again while the cache is still being filled at
// start, when a decision could overcommit a node whose pods it has not seen yet.
const syncRetry = 100 * time.Millisecond

// Reconciler binds pending pods.
type Reconciler struct {
	client.Client
	Recorder record.EventRecorder
	Clock    clock.PassiveClock

	cache *cache
}

// NewReconciler returns a scheduler with an empty cache, filled by the informers once
// SetupWithManager has registered it.
func NewReconciler(c client.Client, recorder record.EventRecorder, clk clock.PassiveClock) *Reconciler {
	return &Reconciler{Client: c, Recorder: recorder, Clock: clk, cache: newCache()}
}

// SetupWithManager registers the scheduler, feeds its cache from the manager's informers
// and serves placement to the workload controllers through cfg.Placement;
// cfg.Concurrency is how many binds run at once.
func SetupWithManager(ctx context.Context, mgr ctrl.Manager, cfg setup.Config) error {
	r := NewReconciler(mgr.GetClient(), cfg.Recorder, cfg.Clock)
	cfg.Placement.Serve(r)
	if err := r.cache.feed(ctx, mgr.GetCache()); err != nil {
		return err
	}
	return ctrl.NewControllerManagedBy(mgr).
		For(&corev1alpha1.Pod{}, builder.WithPredicates(predicate.NewPredicateFuncs(func(o client.Object) bool {
			return pending(o.(*corev1alpha1.Pod))
		}))).
		WatchesRawSource(source.Channel(r.cache.wake, handler.EnqueueRequestsFromMapFunc(r.cache.waitingPods))).
		// A claim created or changed may let a waiting pod fit.
		Watches(&corev1.PersistentVolumeClaim{}, handler.EnqueueRequestsFromMapFunc(r.cache.claimChanged)).
		WithOptions(controller.Options{MaxConcurrentReconciles: cfg.Concurrency}).
		Named("scheduler").
		Complete(r)
}

// +kubebuilder:rbac:groups=core.kybern.io,resources=pods,verbs=get;list;watch;patch
// +kubebuilder:rbac:groups=core.kybern.io,resources=pods/status,verbs=get;patch;update
// +kubebuilder:rbac:groups=core.kybern.io,resources=nodes,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=namespaces,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=persistentvolumeclaims,verbs=get;list;watch;patch
// +kubebuilder:rbac:groups=storage.k8s.io,resources=storageclasses,verbs=get;list;watch

// Reconcile binds one pending pod to the best node it fits on, or says why none fits.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	pod := &corev1alpha1.Pod{}
	if err := r.Get(ctx, req.NamespacedName, pod); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !pending(pod) {
		return ctrl.Result{}, nil
	}
	if !r.cache.synced() {
		return ctrl.Result{RequeueAfter: syncRetry}, nil
	}
	node, claims, why, err := r.decide(ctx, pod, pod.UID)
	if err != nil {
		return ctrl.Result{}, err
	}
	if node == "" {
		return ctrl.Result{RequeueAfter: unschedulableRetry}, r.markUnschedulable(ctx, pod, why)
	}
	if err := r.selectClaims(ctx, claims, node); err != nil {
		r.cache.forget(pod.UID)
		return ctrl.Result{}, err
	}
	patch := client.RawPatch(types.MergePatchType, fmt.Appendf(nil, `{"spec":{"nodeName":%q}}`, node))
	if err := r.Patch(ctx, pod, patch); err != nil {
		r.cache.forget(pod.UID)
		if apierrors.IsNotFound(err) {
			return ctrl.Result{}, nil
		}
		return ctrl.Result{}, fmt.Errorf("binding pod %s to node %s: %w", req.NamespacedName, node, err)
	}
	r.scheduled(pod, node)
	return ctrl.Result{}, nil
}

// Place implements placement.Placer: the same decision as Reconcile's, made before the
// pod exists, so its controller creates it bound.
func (r *Reconciler) Place(ctx context.Context, pod *corev1alpha1.Pod) func(*corev1alpha1.Pod) {
	if !pending(pod) || !r.cache.synced() {
		return func(*corev1alpha1.Pod) {}
	}
	r.cache.mu.Lock()
	key := r.cache.reservationKey()
	r.cache.mu.Unlock()
	node, claims, _, err := r.decide(ctx, pod, key)
	if err == nil && node != "" {
		err = r.selectClaims(ctx, claims, node)
	}
	if err != nil || node == "" {
		r.cache.forget(key)
		return func(*corev1alpha1.Pod) {}
	}
	pod.Spec.NodeName = node
	return func(created *corev1alpha1.Pod) {
		if created == nil {
			r.cache.forget(key)
			return
		}
		r.cache.created(key, created)
		r.scheduled(created, node)
	}
}

// decide picks pod's node and counts pod against it under key, or records that pod
// waits and returns why no node fits. Both happen under the cache lock, so a node added
// meanwhile either is seen here or wakes the pod. The claims pod mounts are returned for
// the caller to select for node; the cache counts them as selected already.
func (r *Reconciler) decide(ctx context.Context, pod *corev1alpha1.Pod, key types.UID) (node string, claims []podClaim, why string, err error) {
	ns := r.namespaceLabels(ctx)
	now := r.Clock.Now()
	claimEvents := r.cache.claimEventsSeen()
	claims, why, err = r.claimsOf(ctx, pod)
	if err != nil {
		return "", nil, "", err
	}
	name := types.NamespacedName{Namespace: pod.Namespace, Name: pod.Name}
	r.cache.mu.Lock()
	defer r.cache.mu.Unlock()
	var best *nodeInfo
	if why == "" {
		var volumeNode string
		if volumeNode, why = r.cache.volumeNode(claims); why == "" {
			best, why = pickOn(pod, r.cache.candidates(now), ns, volumeNode)
		}
	}
	if best == nil {
		if pod.Name != "" {
			r.cache.waiting.Insert(name)
			// A claim event between claimsOf and here found the pod not waiting yet.
			if r.cache.claimEvents != claimEvents {
				r.cache.signal()
			}
		}
		return "", nil, why, nil
	}
	r.cache.waiting.Delete(name)
	r.cache.assume(key, pod, best.node.Name, now)
	for _, c := range claims {
		if c.selected == "" {
			r.cache.claims[c.key] = best.node.Name
		}
	}
	return best.node.Name, claims, "", nil
}

func (r *Reconciler) scheduled(pod *corev1alpha1.Pod, node string) {
	r.Recorder.Eventf(pod, corev1.EventTypeNormal, "Scheduled", "Successfully assigned %s/%s to %s", pod.Namespace, pod.Name, node)
}

// namespaceLabels reads namespaces' labels from the manager's cache, for terms with a
// namespaceSelector; the Namespace informer starts at the first such term.
func (r *Reconciler) namespaceLabels(ctx context.Context) nsLabels {
	return func(name string) labels.Set {
		ns := &corev1.Namespace{}
		if err := r.Get(ctx, client.ObjectKey{Name: name}, ns); err != nil {
			return nil
		}
		return ns.Labels
	}
}

// markUnschedulable sets PodScheduled=False, reason Unschedulable, with why, unless the
// pod already says so.
func (r *Reconciler) markUnschedulable(ctx context.Context, pod *corev1alpha1.Pod, why string) error {
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse && c.Reason == corev1.PodReasonUnschedulable && c.Message == why {
			return nil
		}
	}
	orig := pod.DeepCopy()
	cond := corev1.PodCondition{Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: corev1.PodReasonUnschedulable,
		Message: why, LastTransitionTime: metav1.NewTime(r.Clock.Now())}
	kept := []corev1.PodCondition{cond}
	for _, c := range pod.Status.Conditions {
		if c.Type != corev1.PodScheduled {
			kept = append(kept, c)
		}
	}
	pod.Status.Conditions = kept
	if pod.Status.Phase == "" {
		pod.Status.Phase = corev1.PodPending
	}
	r.Recorder.Eventf(pod, corev1.EventTypeWarning, "FailedScheduling", "%s", why)
	// Optimistic: a merge patch replaces the whole conditions list, and a stale read must
	// not drop a condition the node agent wrote meanwhile.
	return client.IgnoreNotFound(r.Status().Patch(ctx, pod, client.MergeFromWithOptions(orig, client.MergeFromWithOptimisticLock{})))
}

// pending reports whether p waits for this scheduler: unbound, not being deleted, and
// naming default-scheduler or no scheduler.
func pending(p *corev1alpha1.Pod) bool {
	return p.Spec.NodeName == "" && p.DeletionTimestamp == nil &&
		(p.Spec.SchedulerName == "" || p.Spec.SchedulerName == corev1.DefaultSchedulerName)
}
