package service

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"sync"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilnet "k8s.io/apimachinery/pkg/util/net"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/source"

	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
	"github.com/kybern/kybern/controllers/internal/setup"
)

// The reasons of the allocation conditions, and the event reasons of failed allocations.
const (
	ReasonAllocated        = "Allocated"
	ReasonAlreadyAllocated = "AlreadyAllocated"
	ReasonOutOfRange       = "OutOfRange"
	ReasonInvalid          = "InvalidAddress"
	ReasonRangeFull        = "RangeFull"

	EventClusterIPAllocationFailed = "ClusterIPAllocationFailed"
	EventNodePortAllocationFailed  = "NodePortAllocationFailed"
)

// Reconciler allocates Services' cluster IPs and node ports. It must be the only one of
// its kind in the cluster (leader election) and reconciles one Service at a time.
type Reconciler struct {
	client.Client
	Recorder record.EventRecorder
	Clock    clock.PassiveClock

	ips   ipRange
	ports portRange
	// mu guards alloc, which is nil until the first reconcile rebuilds it from the cache.
	mu    sync.Mutex
	alloc *allocations
	// retry carries the Services to reconcile again when another lets go of something.
	retry chan event.GenericEvent
}

// ValidateRanges names the flag whose range the controller cannot allocate from.
func ValidateRanges(cidr netip.Prefix, ports utilnet.PortRange) error {
	_, err := NewReconciler(nil, nil, nil, cidr, ports)
	return err
}

// NewReconciler returns a Reconciler allocating from the service CIDR cidr and the node
// ports in ports, or an error naming the flag whose value cannot be used.
func NewReconciler(c client.Client, recorder record.EventRecorder, clk clock.PassiveClock, cidr netip.Prefix, ports utilnet.PortRange) (*Reconciler, error) {
	ips, err := newIPRange(cidr)
	if err != nil {
		return nil, err
	}
	pr, err := newPortRange(ports)
	if err != nil {
		return nil, err
	}
	return &Reconciler{Client: c, Recorder: recorder, Clock: clk, ips: ips, ports: pr, retry: make(chan event.GenericEvent)}, nil
}

// SetupWithManager registers the controller, allocating from cfg's service ranges; it
// reconciles one Service at a time, since allocations are serialised anyway. Deleting a
// Service frees what it held on the delete event; that, and a Service letting go of an
// address or port in a reconcile, wakes the Services that wait for one.
func SetupWithManager(_ context.Context, mgr ctrl.Manager, cfg setup.Config) error {
	r, err := NewReconciler(mgr.GetClient(), cfg.Recorder, cfg.Clock, cfg.ServiceClusterIPRange, cfg.ServiceNodePortRange)
	if err != nil {
		return err
	}
	events := &serviceEvents{release: r.release}
	return ctrl.NewControllerManagedBy(mgr).
		Watches(&corev1alpha1.Service{}, events).
		WatchesRawSource(source.Channel(r.retry, events)).
		WithOptions(controller.Options{MaxConcurrentReconciles: 1}).
		Named("service").
		Complete(r)
}

// release frees what the Service key held and returns the keys of Services waiting for a
// free address or port.
func (r *Reconciler) release(key string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.alloc == nil {
		return nil
	}
	return r.alloc.release(key)
}

// +kubebuilder:rbac:groups=core.kybern.io,resources=services,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=core.kybern.io,resources=services/status,verbs=get;update;patch

// Reconcile gives one Service its cluster IP and node ports and reports the outcome in
// its status conditions.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	// Locked before the read: the cache drops a Service before its delete event releases
	// it, so a Service read here is not released until this reconcile ends.
	r.mu.Lock()
	defer r.mu.Unlock()
	svc := &corev1alpha1.Service{}
	if err := r.Get(ctx, req.NamespacedName, svc); err != nil {
		// A deleted Service was released on its delete event.
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if svc.DeletionTimestamp != nil {
		// It keeps what it holds until it is gone.
		return ctrl.Result{}, nil
	}
	if r.alloc == nil {
		if err := r.rebuild(ctx); err != nil {
			return ctrl.Result{}, err
		}
	}
	want := svc.DeepCopy()
	res := r.alloc.apply(want)
	if !apiequality.Semantic.DeepEqual(want.Spec, svc.Spec) {
		// The update carries svc's resourceVersion: a newer Service, or one another
		// manager has given an address meanwhile, makes it fail.
		switch err := r.Update(ctx, want); {
		case apierrors.IsConflict(err):
			log.FromContext(ctx).V(1).Info("Spec update conflicted; waiting for the newer Service")
			return ctrl.Result{}, nil
		case err != nil:
			return ctrl.Result{}, fmt.Errorf("writing the allocated spec: %w", err)
		}
		log.FromContext(ctx).Info("Allocated", "clusterIP", want.Spec.ClusterIP, "nodePorts", nodePortsOf(want))
	}
	if res.freed {
		r.wakeWaiting(ctx, r.alloc.waiting())
	}
	return ctrl.Result{}, r.writeStatus(ctx, want, res)
}

// wakeWaiting queues the Services with these keys, without waiting for the queue.
func (r *Reconciler) wakeWaiting(ctx context.Context, keys []string) {
	if len(keys) == 0 {
		return
	}
	go func() {
		for _, key := range keys {
			ns, name, _ := strings.Cut(key, "/")
			select {
			case r.retry <- event.GenericEvent{Object: &corev1alpha1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}}:
			case <-ctx.Done():
				return
			}
		}
	}()
}

// rebuild fills the allocations from every Service in the cache.
func (r *Reconciler) rebuild(ctx context.Context) error {
	var list corev1alpha1.ServiceList
	if err := r.List(ctx, &list); err != nil {
		return fmt.Errorf("listing Services to rebuild the allocations: %w", err)
	}
	svcs := make([]*corev1alpha1.Service, len(list.Items))
	for i := range list.Items {
		svcs[i] = &list.Items[i]
	}
	a := newAllocations(r.ips, r.ports)
	a.observe(svcs)
	r.alloc = a
	log.FromContext(ctx).Info("Rebuilt the allocations", "services", len(svcs))
	return nil
}

// writeStatus sets svc's allocation conditions from res, records an event for each
// failure that is new, and writes the status when it changed.
func (r *Reconciler) writeStatus(ctx context.Context, svc *corev1alpha1.Service, res result) error {
	conds := svc.Status.DeepCopy().Conditions
	now := metav1.NewTime(r.Clock.Now())
	set := func(t string, applies bool, f *failure, ok, event string) {
		switch {
		case !applies:
			apimeta.RemoveStatusCondition(&conds, t)
		case f == nil:
			apimeta.SetStatusCondition(&conds, metav1.Condition{Type: t, Status: metav1.ConditionTrue, Reason: ReasonAllocated,
				Message: ok, ObservedGeneration: svc.Generation, LastTransitionTime: now})
		default:
			if prev := apimeta.FindStatusCondition(conds, t); prev == nil || prev.Status != metav1.ConditionFalse || prev.Message != f.message {
				r.Recorder.Event(svc, corev1.EventTypeWarning, event, f.message)
			}
			apimeta.SetStatusCondition(&conds, metav1.Condition{Type: t, Status: metav1.ConditionFalse, Reason: f.reason,
				Message: f.message, ObservedGeneration: svc.Generation, LastTransitionTime: now})
		}
	}
	set(corev1alpha1.ServiceClusterIPAllocated, res.ipApplies, res.ipFailure, "Allocated "+svc.Spec.ClusterIP, EventClusterIPAllocationFailed)
	set(corev1alpha1.ServiceNodePortAllocated, res.portsApply, res.portFailure, fmt.Sprintf("Allocated node ports %v", nodePortsOf(svc)), EventNodePortAllocationFailed)
	if apiequality.Semantic.DeepEqual(conds, svc.Status.Conditions) {
		return nil
	}
	svc.Status.Conditions = conds
	switch err := r.Status().Update(ctx, svc); {
	case apierrors.IsConflict(err):
		log.FromContext(ctx).V(1).Info("Status update conflicted; waiting for the newer Service")
	case err != nil:
		return fmt.Errorf("writing the allocation conditions: %w", err)
	}
	return nil
}

func nodePortsOf(svc *corev1alpha1.Service) []int32 {
	var out []int32
	for _, p := range svc.Spec.Ports {
		if p.NodePort != 0 {
			out = append(out, p.NodePort)
		}
	}
	return out
}
