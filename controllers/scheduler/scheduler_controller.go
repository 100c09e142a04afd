package scheduler

import (
	"context"
	"fmt"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
	"github.com/kybern/kybern/controllers/internal/podutil"
)

// unschedulableRetry is how often a pod that fits nowhere is tried again even when no
// node or pod event suggests it might fit now, as upstream's periodic flush.
const unschedulableRetry = 5 * time.Minute

// Reconciler binds pending pods.
type Reconciler struct {
	client.Client
	Recorder record.EventRecorder
	Clock    clock.PassiveClock

	// mu serialises decisions, so that each sees the binds of the ones before it.
	mu      sync.Mutex
	assumed assumed
}

// NewReconciler returns a scheduler with no assumed binds.
func NewReconciler(c client.Client, recorder record.EventRecorder, clk clock.PassiveClock) *Reconciler {
	return &Reconciler{Client: c, Recorder: recorder, Clock: clk, assumed: assumed{}}
}

// SetupWithManager registers the scheduler; concurrency is how many binds run at once.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager, concurrency int) error {
	return ctrl.NewControllerManagedBy(mgr).
		For(&corev1alpha1.Pod{}, builder.WithPredicates(predicate.NewPredicateFuncs(func(o client.Object) bool {
			return pending(o.(*corev1alpha1.Pod))
		}))).
		Watches(&corev1alpha1.Node{}, handler.EnqueueRequestsFromMapFunc(r.pendingPods)).
		Watches(&corev1alpha1.Pod{}, handler.EnqueueRequestsFromMapFunc(r.pendingPods), builder.WithPredicates(podFreedCapacity)).
		WithOptions(controller.Options{MaxConcurrentReconciles: concurrency}).
		Named("scheduler").
		Complete(r)
}

// +kubebuilder:rbac:groups=core.kybern.io,resources=pods,verbs=get;list;watch;patch
// +kubebuilder:rbac:groups=core.kybern.io,resources=pods/status,verbs=get;patch;update
// +kubebuilder:rbac:groups=core.kybern.io,resources=nodes,verbs=get;list;watch

// Reconcile binds one pending pod to the best node it fits on, or says why none fits.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	pod := &corev1alpha1.Pod{}
	if err := r.Get(ctx, req.NamespacedName, pod); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !pending(pod) {
		return ctrl.Result{}, nil
	}
	node, why, err := r.decide(ctx, pod)
	if err != nil {
		return ctrl.Result{}, err
	}
	if node == "" {
		return ctrl.Result{RequeueAfter: unschedulableRetry}, r.markUnschedulable(ctx, pod, why)
	}
	patch := client.RawPatch(types.MergePatchType, fmt.Appendf(nil, `{"spec":{"nodeName":%q}}`, node))
	if err := r.Patch(ctx, pod, patch); err != nil {
		r.forget(pod)
		if apierrors.IsNotFound(err) {
			return ctrl.Result{}, nil
		}
		return ctrl.Result{}, fmt.Errorf("binding pod %s to node %s: %w", req.NamespacedName, node, err)
	}
	r.Recorder.Eventf(pod, corev1.EventTypeNormal, "Scheduled", "Successfully assigned %s to %s", req.NamespacedName, node)
	return ctrl.Result{}, nil
}

// decide picks pod's node under the decision lock and assumes the bind.
func (r *Reconciler) decide(ctx context.Context, pod *corev1alpha1.Pod) (string, string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var nodes corev1alpha1.NodeList
	if err := r.List(ctx, &nodes, client.UnsafeDisableDeepCopy); err != nil {
		return "", "", err
	}
	var pods corev1alpha1.PodList
	if err := r.List(ctx, &pods, client.UnsafeDisableDeepCopy); err != nil {
		return "", "", err
	}
	infos := make([]*nodeInfo, len(nodes.Items))
	byName := map[string]*nodeInfo{}
	for i := range nodes.Items {
		infos[i] = newNodeInfo(&nodes.Items[i])
		byName[nodes.Items[i].Name] = infos[i]
	}
	cached := make(map[types.UID]*corev1alpha1.Pod, len(pods.Items))
	for i := range pods.Items {
		p := &pods.Items[i]
		cached[p.UID] = p
		if ni, ok := byName[p.Spec.NodeName]; ok && podutil.IsActive(p) {
			ni.add(p)
		}
	}
	for _, p := range r.assumed.pending(cached, r.Clock.Now()) {
		if ni, ok := byName[p.Spec.NodeName]; ok {
			ni.add(p)
		}
	}
	best, why := pick(pod, infos)
	if best == nil {
		return "", why, nil
	}
	r.assumed.assume(pod, best.node.Name, r.Clock.Now())
	return best.node.Name, "", nil
}

func (r *Reconciler) forget(pod *corev1alpha1.Pod) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.assumed, pod.UID)
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

// podFreedCapacity passes the pod events that may let a waiting pod fit: a bound pod
// deleted or finished.
var podFreedCapacity = predicate.Funcs{
	CreateFunc:  func(event.CreateEvent) bool { return false },
	GenericFunc: func(event.GenericEvent) bool { return false },
	DeleteFunc: func(e event.DeleteEvent) bool {
		p, ok := e.Object.(*corev1alpha1.Pod)
		return ok && p.Spec.NodeName != ""
	},
	UpdateFunc: func(e event.UpdateEvent) bool {
		old, cur := e.ObjectOld.(*corev1alpha1.Pod), e.ObjectNew.(*corev1alpha1.Pod)
		return cur.Spec.NodeName != "" && podutil.IsActive(old) && !podutil.IsActive(cur)
	},
}

// pendingPods maps an event that may change where pods fit to every pod that waits.
func (r *Reconciler) pendingPods(ctx context.Context, _ client.Object) []ctrl.Request {
	var pods corev1alpha1.PodList
	if err := r.List(ctx, &pods, client.UnsafeDisableDeepCopy); err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "Listing pending pods")
		return nil
	}
	var out []ctrl.Request
	for i := range pods.Items {
		if pending(&pods.Items[i]) {
			out = append(out, ctrl.Request{NamespacedName: client.ObjectKeyFromObject(&pods.Items[i])})
		}
	}
	return out
}
