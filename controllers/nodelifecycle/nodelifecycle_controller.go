package nodelifecycle

import (
	"context"
	"net/netip"
	"sync"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
	"github.com/kybern/kybern/controllers/internal/setup"
)

// LeaseNamespace holds one Lease per node, named after it, renewed by its node agent.
const LeaseNamespace = corev1alpha1.NodeLeaseNamespace

// podNodeNameIndex indexes pods by spec.nodeName, to list a node's pods from the cache.
const podNodeNameIndex = "spec.nodeName"

// Reconciler runs the lifecycle of Nodes.
type Reconciler struct {
	client.Client
	Recorder record.EventRecorder
	Clock    clock.PassiveClock
	// GracePeriod is how long a Lease may go unrenewed before its node is unreachable.
	GracePeriod time.Duration
	// DefaultNotReadyTolerationSeconds and DefaultUnreachableTolerationSeconds are how
	// long a pod that states no toleration of the not-ready or unreachable NoExecute
	// taint stays on a node that has it.
	DefaultNotReadyTolerationSeconds, DefaultUnreachableTolerationSeconds int64
	// ClusterCIDR is the range Nodes' pod CIDRs come from, a /24 each.
	ClusterCIDR netip.Prefix

	// cidrMu serialises pod CIDR allocation, so that two nodes never get the same one.
	cidrMu sync.Mutex
	// allocated holds the CIDRs given out, by node, until the cache shows them: a second
	// allocation right after a first must not trust a cache that lags behind it.
	allocated map[string]string

	heartbeatMu sync.Mutex
	// heartbeats holds, by node, the Lease renewal last read and when this controller
	// first read it.
	heartbeats map[string]heartbeat
}

// heartbeat is a Lease renewal as this controller saw it. A node's grace period runs from
// when the controller saw its Lease renewed, on the controller's clock, as upstream's
// probe timestamps do: neither a skewed node clock nor a control plane or manager that
// was away longer than the grace period marks a node unreachable before its agent could
// renew.
type heartbeat struct {
	renewed time.Time
	seenAt  time.Time
}

// SetupWithManager registers the controller with cfg's grace period, default
// toleration and cluster CIDR, and indexes pods by node: Node events and Lease renewals wake it.
func SetupWithManager(ctx context.Context, mgr ctrl.Manager, cfg setup.Config) error {
	if err := mgr.GetFieldIndexer().IndexField(ctx, &corev1alpha1.Pod{}, podNodeNameIndex, func(o client.Object) []string {
		return []string{o.(*corev1alpha1.Pod).Spec.NodeName}
	}); err != nil {
		return err
	}
	r := &Reconciler{Client: mgr.GetClient(), Recorder: cfg.Recorder, Clock: cfg.Clock,
		GracePeriod: cfg.NodeMonitorGracePeriod, DefaultNotReadyTolerationSeconds: cfg.DefaultNotReadyTolerationSeconds,
		DefaultUnreachableTolerationSeconds: cfg.DefaultUnreachableTolerationSeconds, ClusterCIDR: cfg.ClusterCIDR}
	return ctrl.NewControllerManagedBy(mgr).
		For(&corev1alpha1.Node{}).
		Watches(&coordinationv1.Lease{}, handler.EnqueueRequestsFromMapFunc(func(_ context.Context, o client.Object) []ctrl.Request {
			return []ctrl.Request{{NamespacedName: types.NamespacedName{Name: o.GetName()}}}
		}), builder.WithPredicates(predicate.NewPredicateFuncs(func(o client.Object) bool { return o.GetNamespace() == LeaseNamespace }))).
		Named("nodelifecycle").
		Complete(r)
}

// +kubebuilder:rbac:groups=core.kybern.io,resources=nodes,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=core.kybern.io,resources=nodes/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=core.kybern.io,resources=pods,verbs=get;list;watch;delete
// +kubebuilder:rbac:groups=coordination.k8s.io,resources=leases,verbs=get;list;watch,namespace=kybern-node-lease

// Reconcile allocates the node's pod CIDR and acts on its heartbeat.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	node := &corev1alpha1.Node{}
	if err := r.Get(ctx, req.NamespacedName, node); err != nil {
		if apierrors.IsNotFound(err) {
			r.forgetHeartbeat(req.Name)
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if node.Spec.PodCIDR == "" {
		if err := r.allocateCIDR(ctx, node); err != nil {
			return ctrl.Result{}, err
		}
	}
	now := r.Clock.Now()
	seen, err := r.lastHeartbeat(ctx, node, now)
	if err != nil {
		return ctrl.Result{}, err
	}
	deadline := seen.Add(r.GracePeriod)
	reachable := now.Before(deadline)
	if reachable {
		err = r.markReachable(ctx, node)
		if err == nil {
			err = r.syncConditionTaints(ctx, node, now)
		}
	} else {
		err = r.markUnreachable(ctx, node, now)
	}
	if err == nil {
		err = r.stampNoExecute(ctx, node, now)
	}
	if err != nil {
		return ctrl.Result{}, err
	}
	next, err := r.evict(ctx, node, now)
	if err != nil {
		return ctrl.Result{}, err
	}
	if reachable && (next.IsZero() || deadline.Before(next)) {
		next = deadline
	}
	if next.IsZero() {
		return ctrl.Result{}, nil
	}
	return ctrl.Result{RequeueAfter: next.Sub(now) + time.Second}, nil
}

// allocateCIDR gives node the first free /24 of the cluster CIDR.
func (r *Reconciler) allocateCIDR(ctx context.Context, node *corev1alpha1.Node) error {
	r.cidrMu.Lock()
	defer r.cidrMu.Unlock()
	var nodes corev1alpha1.NodeList
	if err := r.List(ctx, &nodes); err != nil {
		return err
	}
	used := map[string]bool{}
	cached := map[string]string{}
	for _, n := range nodes.Items {
		cached[n.Name] = n.Spec.PodCIDR
		if n.Spec.PodCIDR != "" {
			used[n.Spec.PodCIDR] = true
		}
	}
	if r.allocated == nil {
		r.allocated = map[string]string{}
	}
	for name, cidr := range r.allocated {
		// Forget what the cache shows now, and the CIDRs of nodes that are gone.
		if podCIDR, ok := cached[name]; !ok || podCIDR != "" {
			delete(r.allocated, name)
			continue
		}
		used[cidr] = true
	}
	cidr, err := nextCIDR(r.ClusterCIDR, used)
	if err != nil {
		r.Recorder.Event(node, corev1.EventTypeWarning, "CIDRNotAvailable", err.Error())
		return err
	}
	orig := node.DeepCopy()
	node.Spec.PodCIDR, node.Spec.PodCIDRs = cidr, []string{cidr}
	// Optimistic: a concurrent allocation shows as a conflict, never as two nodes on one CIDR.
	if err := r.Patch(ctx, node, client.MergeFromWithOptions(orig, client.MergeFromWithOptimisticLock{})); err != nil {
		return err
	}
	r.allocated[node.Name] = cidr
	r.Recorder.Eventf(node, corev1.EventTypeNormal, "CIDRAssignmentSucceeded", "Node %s was assigned pod CIDR %s", node.Name, cidr)
	return nil
}

// lastHeartbeat is when this controller, at now, has last seen the node's Lease renewed:
// the first time it read the renewal it reads now. A node without a Lease, or whose Lease
// was never renewed, counts from when the controller first saw it so.
func (r *Reconciler) lastHeartbeat(ctx context.Context, node *corev1alpha1.Node, now time.Time) (time.Time, error) {
	lease := &coordinationv1.Lease{}
	var renewed time.Time
	err := r.Get(ctx, types.NamespacedName{Namespace: LeaseNamespace, Name: node.Name}, lease)
	switch {
	case apierrors.IsNotFound(err):
	case err != nil:
		return time.Time{}, err
	case lease.Spec.RenewTime != nil:
		renewed = lease.Spec.RenewTime.Time
	}
	r.heartbeatMu.Lock()
	defer r.heartbeatMu.Unlock()
	if r.heartbeats == nil {
		r.heartbeats = map[string]heartbeat{}
	}
	h, ok := r.heartbeats[node.Name]
	if !ok || !h.renewed.Equal(renewed) {
		h = heartbeat{renewed: renewed, seenAt: now}
		r.heartbeats[node.Name] = h
	}
	return h.seenAt, nil
}

func (r *Reconciler) forgetHeartbeat(node string) {
	r.heartbeatMu.Lock()
	defer r.heartbeatMu.Unlock()
	delete(r.heartbeats, node)
}

func unreachableTaints(now time.Time) []corev1.Taint {
	at := metav1.NewTime(now)
	return []corev1.Taint{
		{Key: corev1.TaintNodeUnreachable, Effect: corev1.TaintEffectNoSchedule},
		{Key: corev1.TaintNodeUnreachable, Effect: corev1.TaintEffectNoExecute, TimeAdded: &at},
	}
}

// markUnreachable sets Ready=Unknown and the unreachable taints in place of the
// not-ready ones, as upstream swaps them: the agent's last word on readiness is stale.
func (r *Reconciler) markUnreachable(ctx context.Context, node *corev1alpha1.Node, now time.Time) error {
	for _, t := range node.Spec.Taints {
		if t.Key == corev1.TaintNodeUnreachable && t.Effect == corev1.TaintEffectNoExecute && t.TimeAdded != nil {
			return r.setReadyUnknown(ctx, node, now)
		}
	}
	orig := node.DeepCopy()
	var kept []corev1.Taint
	for _, t := range node.Spec.Taints {
		if t.Key != corev1.TaintNodeUnreachable && t.Key != corev1.TaintNodeNotReady {
			kept = append(kept, t)
		}
	}
	node.Spec.Taints = append(kept, unreachableTaints(now)...)
	if err := r.Patch(ctx, node, client.MergeFromWithOptions(orig, client.MergeFromWithOptimisticLock{})); err != nil {
		return err
	}
	r.Recorder.Eventf(node, corev1.EventTypeNormal, "NodeNotReady", "Node %s status is now: NodeNotReady", node.Name)
	return r.setReadyUnknown(ctx, node, now)
}

func (r *Reconciler) setReadyUnknown(ctx context.Context, node *corev1alpha1.Node, now time.Time) error {
	for _, c := range node.Status.Conditions {
		if c.Type == corev1.NodeReady && c.Status == corev1.ConditionUnknown {
			return nil
		}
	}
	orig := node.DeepCopy()
	cond := corev1.NodeCondition{Type: corev1.NodeReady, Status: corev1.ConditionUnknown, Reason: "NodeStatusUnknown",
		Message: "Kubelet stopped posting node status.", LastHeartbeatTime: metav1.NewTime(now), LastTransitionTime: metav1.NewTime(now)}
	conds := []corev1.NodeCondition{cond}
	for _, c := range node.Status.Conditions {
		if c.Type != corev1.NodeReady {
			conds = append(conds, c)
		}
	}
	node.Status.Conditions = conds
	return r.Status().Patch(ctx, node, client.MergeFromWithOptions(orig, client.MergeFromWithOptimisticLock{}))
}

// markReachable removes the unreachable taints from a node whose Lease is fresh again. Its
// node agent reports Ready itself.
func (r *Reconciler) markReachable(ctx context.Context, node *corev1alpha1.Node) error {
	var kept []corev1.Taint
	for _, t := range node.Spec.Taints {
		if t.Key != corev1.TaintNodeUnreachable {
			kept = append(kept, t)
		}
	}
	if len(kept) == len(node.Spec.Taints) {
		return nil
	}
	orig := node.DeepCopy()
	node.Spec.Taints = kept
	if err := r.Patch(ctx, node, client.MergeFromWithOptions(orig, client.MergeFromWithOptimisticLock{})); err != nil {
		return err
	}
	r.Recorder.Eventf(node, corev1.EventTypeNormal, "NodeReachable", "Node %s renews its lease again", node.Name)
	return nil
}
