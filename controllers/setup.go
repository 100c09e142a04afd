package controllers

import (
	ctrl "sigs.k8s.io/controller-runtime"
)

// Options configures every controller the manager runs.
type Options struct {
	Concurrency Concurrency
}

// setupFunc registers one controller with the manager.
type setupFunc func(mgr ctrl.Manager, opts Options) error

// The manager's own needs, whatever controllers run: a Lease for leader election and
// Events to report what it does.
// +kubebuilder:rbac:groups=coordination.k8s.io,resources=leases,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups="",resources=events,verbs=create;patch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// SetupWithManager registers every controller with mgr, in order. The workload,
// scheduling and networking controllers join this list as they land.
func SetupWithManager(mgr ctrl.Manager, opts Options) error {
	for _, setup := range []setupFunc{} {
		if err := setup(mgr, opts); err != nil {
			return err
		}
	}
	return nil
}
