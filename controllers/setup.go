package controllers

import (
	"context"
	"flag"
	"fmt"
	"net/netip"
	"time"

	utilnet "k8s.io/apimachinery/pkg/util/net"

	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"

	"github.com/kybern/kybern/controllers/cronjob"
	"github.com/kybern/kybern/controllers/daemonset"
	"github.com/kybern/kybern/controllers/deployment"
	"github.com/kybern/kybern/controllers/endpoints"
	"github.com/kybern/kybern/controllers/garbagecollector"
	"github.com/kybern/kybern/controllers/internal/placement"
	"github.com/kybern/kybern/controllers/job"
	"github.com/kybern/kybern/controllers/nodelifecycle"
	"github.com/kybern/kybern/controllers/replicaset"
	"github.com/kybern/kybern/controllers/scheduler"
	"github.com/kybern/kybern/controllers/service"
	"github.com/kybern/kybern/controllers/statefulset"
)

// Options configures every controller the manager runs.
type Options struct {
	Concurrency Concurrency
	// NodeMonitorGracePeriod is how long a node's Lease may go unrenewed before the node
	// is unreachable.
	NodeMonitorGracePeriod time.Duration
	// DefaultUnreachableTolerationSeconds is how long a pod that states no toleration of
	// the unreachable taint stays on an unreachable node.
	DefaultUnreachableTolerationSeconds int64
	// ServiceClusterIPRange is the IPv4 CIDR Services' cluster IPs come from.
	ServiceClusterIPRange netip.Prefix
	// ServiceNodePortRange holds the node ports of NodePort and LoadBalancer Services.
	ServiceNodePortRange utilnet.PortRange
}

// BindFlags registers every option as a flag, with upstream's names and defaults.
func (o *Options) BindFlags(fs *flag.FlagSet) {
	o.Concurrency.BindFlags(fs)
	fs.DurationVar(&o.NodeMonitorGracePeriod, "node-monitor-grace-period", 40*time.Second, "How long a node's Lease may go unrenewed before the node is marked unreachable.")
	fs.TextVar(&o.ServiceClusterIPRange, "service-cluster-ip-range", netip.MustParsePrefix("10.96.0.0/16"), "The IPv4 CIDR Services' cluster IPs are allocated from, /12 to /29; its first address is kept for a kubernetes Service.")
	o.ServiceNodePortRange = utilnet.PortRange{Base: 30000, Size: 2768}
	fs.Var(&o.ServiceNodePortRange, "service-node-port-range", "The ports NodePort and LoadBalancer Services' node ports are allocated from, as first-last.")
	fs.Int64Var(&o.DefaultUnreachableTolerationSeconds, "default-unreachable-toleration-seconds", 300, "How long a pod that states no toleration of node.kubernetes.io/unreachable stays on an unreachable node before it is evicted.")
}

// Validate names the first flag whose value cannot work.
func (o *Options) Validate() error {
	if o.NodeMonitorGracePeriod <= 0 {
		return fmt.Errorf("--node-monitor-grace-period=%s: must be positive", o.NodeMonitorGracePeriod)
	}
	if o.DefaultUnreachableTolerationSeconds < 0 {
		return fmt.Errorf("--default-unreachable-toleration-seconds=%d: must not be negative", o.DefaultUnreachableTolerationSeconds)
	}
	if err := service.ValidateRanges(o.ServiceClusterIPRange, o.ServiceNodePortRange); err != nil {
		return err
	}
	return o.Concurrency.Validate()
}

// setupFunc registers one controller with the manager; ctx bounds the informers it starts
// and placer lets it create pods already bound.
type setupFunc func(ctx context.Context, mgr ctrl.Manager, opts Options, placer placement.Placer) error

// The manager's own needs, whatever controllers run: a Lease for leader election and
// Events to report what it does.
// +kubebuilder:rbac:groups=coordination.k8s.io,resources=leases,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups="",resources=events,verbs=create;patch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// SetupWithManager registers the scheduler and then every other controller with mgr; the
// workload controllers create their pods bound through the scheduler.
func SetupWithManager(ctx context.Context, mgr ctrl.Manager, opts Options) error {
	//nolint:staticcheck // As setupReplicaSet: the core/v1 recorder bounds event writes.
	sched := scheduler.NewReconciler(mgr.GetClient(), mgr.GetEventRecorderFor("default-scheduler"), clock.RealClock{})
	if err := sched.SetupWithManager(ctx, mgr, opts.Concurrency.Scheduler); err != nil {
		return err
	}
	for _, setup := range []setupFunc{setupReplicaSet, setupDeployment, setupDaemonSet, setupStatefulSet, setupJob, setupCronJob, setupGarbageCollector, setupNodeLifecycle, setupService, setupEndpoints} {
		if err := setup(ctx, mgr, opts, sched); err != nil {
			return err
		}
	}
	return nil
}

func setupReplicaSet(_ context.Context, mgr ctrl.Manager, opts Options, placer placement.Placer) error {
	//nolint:staticcheck // The core/v1 recorder's spam filter and aggregation bound the events of a 1000-pod scale-up, as upstream's controllers rely on.
	recorder := mgr.GetEventRecorderFor("replicaset-controller")
	r := replicaset.NewReconciler(mgr.GetClient(), mgr.GetAPIReader(), recorder, clock.RealClock{})
	r.Placer = placer
	return r.SetupWithManager(mgr, opts.Concurrency.ReplicaSet)
}

func setupDeployment(_ context.Context, mgr ctrl.Manager, opts Options, _ placement.Placer) error {
	//nolint:staticcheck // As setupReplicaSet: the core/v1 recorder bounds event writes.
	recorder := mgr.GetEventRecorderFor("deployment-controller")
	r := &deployment.Reconciler{Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), Recorder: recorder, Clock: clock.RealClock{}}
	return r.SetupWithManager(mgr, opts.Concurrency.Deployment)
}

func setupJob(_ context.Context, mgr ctrl.Manager, opts Options, placer placement.Placer) error {
	//nolint:staticcheck // As setupReplicaSet: the core/v1 recorder bounds event writes.
	recorder := mgr.GetEventRecorderFor("job-controller")
	r := job.NewReconciler(mgr.GetClient(), mgr.GetAPIReader(), recorder, clock.RealClock{})
	r.Placer = placer
	return r.SetupWithManager(mgr, opts.Concurrency.Job)
}

func setupCronJob(_ context.Context, mgr ctrl.Manager, opts Options, _ placement.Placer) error {
	//nolint:staticcheck // As setupReplicaSet: the core/v1 recorder bounds event writes.
	recorder := mgr.GetEventRecorderFor("cronjob-controller")
	r := &cronjob.Reconciler{Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), Recorder: recorder, Clock: clock.RealClock{}}
	return r.SetupWithManager(mgr, opts.Concurrency.CronJob)
}

func setupDaemonSet(_ context.Context, mgr ctrl.Manager, opts Options, _ placement.Placer) error {
	//nolint:staticcheck // As setupReplicaSet: the core/v1 recorder bounds event writes.
	recorder := mgr.GetEventRecorderFor("daemonset-controller")
	r := daemonset.NewReconciler(mgr.GetClient(), mgr.GetAPIReader(), recorder, clock.RealClock{})
	return r.SetupWithManager(mgr, opts.Concurrency.DaemonSet)
}

func setupStatefulSet(_ context.Context, mgr ctrl.Manager, opts Options, _ placement.Placer) error {
	//nolint:staticcheck // As setupReplicaSet: the core/v1 recorder bounds event writes.
	recorder := mgr.GetEventRecorderFor("statefulset-controller")
	r := statefulset.NewReconciler(mgr.GetClient(), mgr.GetAPIReader(), recorder, clock.RealClock{})
	return r.SetupWithManager(mgr, opts.Concurrency.StatefulSet)
}

func setupGarbageCollector(ctx context.Context, mgr ctrl.Manager, opts Options, _ placement.Placer) error {
	c := &garbagecollector.Collector{Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), Mapper: mgr.GetRESTMapper()}
	return c.SetupWithManager(ctx, mgr, opts.Concurrency.GarbageCollector)
}

func setupNodeLifecycle(ctx context.Context, mgr ctrl.Manager, opts Options, _ placement.Placer) error {
	if err := mgr.GetFieldIndexer().IndexField(ctx, &corev1alpha1.Pod{}, "spec.nodeName", func(o client.Object) []string {
		return []string{o.(*corev1alpha1.Pod).Spec.NodeName}
	}); err != nil {
		return err
	}
	//nolint:staticcheck // As setupReplicaSet: the core/v1 recorder bounds event writes.
	recorder := mgr.GetEventRecorderFor("node-controller")
	r := &nodelifecycle.Reconciler{Client: mgr.GetClient(), Recorder: recorder, Clock: clock.RealClock{},
		GracePeriod: opts.NodeMonitorGracePeriod, DefaultTolerationSeconds: opts.DefaultUnreachableTolerationSeconds}
	return r.SetupWithManager(mgr)
}

func setupService(_ context.Context, mgr ctrl.Manager, opts Options, _ placement.Placer) error {
	//nolint:staticcheck // As setupReplicaSet: the core/v1 recorder bounds event writes.
	recorder := mgr.GetEventRecorderFor("service-controller")
	r, err := service.NewReconciler(mgr.GetClient(), recorder, clock.RealClock{}, opts.ServiceClusterIPRange, opts.ServiceNodePortRange)
	if err != nil {
		return err
	}
	return r.SetupWithManager(mgr)
}

func setupEndpoints(_ context.Context, mgr ctrl.Manager, opts Options, _ placement.Placer) error {
	r := endpoints.NewReconciler(mgr.GetClient(), clock.RealClock{})
	return r.SetupWithManager(mgr, opts.Concurrency.Endpoints)
}
