package controllers

import (
	"context"
	"fmt"

	coordinationv1 "k8s.io/api/coordination/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kybern/kybern/controllers/internal/placement"
	"github.com/kybern/kybern/controllers/internal/resourcemetrics"
	"github.com/kybern/kybern/controllers/internal/setup"
	"github.com/kybern/kybern/controllers/nodeauthorizer"
	"github.com/kybern/kybern/controllers/nodelifecycle"
)

// The manager's own needs, whatever controllers run: a Lease for leader election in its
// own namespace (kybern-system, the chart's), Events to report what it does, and the
// reviews that authenticate and authorise the readers of its metrics.
// +kubebuilder:rbac:groups=coordination.k8s.io,resources=leases,verbs=get;create;update,namespace=kybern-system
// +kubebuilder:rbac:groups="",resources=events,verbs=create;patch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch
// +kubebuilder:rbac:groups=authentication.k8s.io,resources=tokenreviews,verbs=create
// +kubebuilder:rbac:groups=authorization.k8s.io,resources=subjectaccessreviews,verbs=create

// CacheOptions are what the manager's cache must be made with for the controllers: Leases
// are node heartbeats, watched only in their namespace, the only one the manager may read
// them in; of Roles and RoleBindings, only the node authorizer's grants are watched.
func CacheOptions() cache.Options {
	grants := labels.SelectorFromSet(labels.Set{nodeauthorizer.GrantLabel: "true"})
	return cache.Options{ByObject: map[client.Object]cache.ByObject{
		&coordinationv1.Lease{}: {Namespaces: map[string]cache.Config{nodelifecycle.LeaseNamespace: {}}},
		&rbacv1.Role{}:          {Label: grants},
		&rbacv1.RoleBinding{}:   {Label: grants},
	}}
}

// SetupWithManager registers with mgr every controller that opts.Controllers enables, in
// registry order, and returns the names of those it set up. The workload controllers
// create their pods bound when the scheduler runs beside them.
func SetupWithManager(ctx context.Context, mgr ctrl.Manager, opts Options) ([]string, error) {
	relay, usage := &placement.Relay{}, resourcemetrics.NewStore()
	var enabled []string
	for _, c := range Registry {
		if !opts.Enabled(c.Name) {
			continue
		}
		cfg := setup.Config{
			Settings:    opts.Settings,
			Concurrency: opts.Concurrency[c.Name],
			// The core/v1 recorder's spam filter and aggregation bound the events of a
			// 1000-pod scale-up, as upstream's controllers rely on; its events.k8s.io
			// successor has neither.
			Recorder:  mgr.GetEventRecorderFor(c.Component), //nolint:staticcheck // See above.
			Clock:     clock.RealClock{},
			Placement: relay,

			ResourceMetrics: usage,
		}
		if err := c.Setup(ctx, mgr, cfg); err != nil {
			return nil, fmt.Errorf("setting up the %s controller: %w", c.Name, err)
		}
		enabled = append(enabled, c.Name)
	}
	return enabled, nil
}
