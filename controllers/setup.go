package controllers

import (
	"context"

	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/kybern/kybern/controllers/deployment"
	"github.com/kybern/kybern/controllers/garbagecollector"
	"github.com/kybern/kybern/controllers/replicaset"
	"github.com/kybern/kybern/controllers/scheduler"
)

// Options configures every controller the manager runs.
type Options struct {
	Concurrency Concurrency
}

// setupFunc registers one controller with the manager; ctx bounds the informers it starts.
type setupFunc func(ctx context.Context, mgr ctrl.Manager, opts Options) error

// The manager's own needs, whatever controllers run: a Lease for leader election and
// Events to report what it does.
// +kubebuilder:rbac:groups=coordination.k8s.io,resources=leases,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups="",resources=events,verbs=create;patch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// SetupWithManager registers every controller with mgr, in order.
func SetupWithManager(ctx context.Context, mgr ctrl.Manager, opts Options) error {
	for _, setup := range []setupFunc{setupReplicaSet, setupDeployment, setupGarbageCollector, setupScheduler} {
		if err := setup(ctx, mgr, opts); err != nil {
			return err
		}
	}
	return nil
}

func setupReplicaSet(_ context.Context, mgr ctrl.Manager, opts Options) error {
	//nolint:staticcheck // The core/v1 recorder's spam filter and aggregation bound the events of a 1000-pod scale-up, as upstream's controllers rely on.
	recorder := mgr.GetEventRecorderFor("replicaset-controller")
	return replicaset.NewReconciler(mgr.GetClient(), mgr.GetAPIReader(), recorder, clock.RealClock{}).
		SetupWithManager(mgr, opts.Concurrency.ReplicaSet)
}

func setupDeployment(_ context.Context, mgr ctrl.Manager, opts Options) error {
	//nolint:staticcheck // As setupReplicaSet: the core/v1 recorder bounds event writes.
	recorder := mgr.GetEventRecorderFor("deployment-controller")
	r := &deployment.Reconciler{Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), Recorder: recorder, Clock: clock.RealClock{}}
	return r.SetupWithManager(mgr, opts.Concurrency.Deployment)
}

func setupGarbageCollector(ctx context.Context, mgr ctrl.Manager, opts Options) error {
	c := &garbagecollector.Collector{Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), Mapper: mgr.GetRESTMapper()}
	return c.SetupWithManager(ctx, mgr, opts.Concurrency.GarbageCollector)
}

func setupScheduler(_ context.Context, mgr ctrl.Manager, opts Options) error {
	//nolint:staticcheck // As setupReplicaSet: the core/v1 recorder bounds event writes.
	recorder := mgr.GetEventRecorderFor("default-scheduler")
	return scheduler.NewReconciler(mgr.GetClient(), recorder, clock.RealClock{}).SetupWithManager(mgr, opts.Concurrency.Scheduler)
}
