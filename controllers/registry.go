package controllers

import (
	"github.com/kybern/kybern/controllers/certificates"
	"github.com/kybern/kybern/controllers/cronjob"
	"github.com/kybern/kybern/controllers/daemonset"
	"github.com/kybern/kybern/controllers/deployment"
	"github.com/kybern/kybern/controllers/endpoints"
	"github.com/kybern/kybern/controllers/garbagecollector"
	"github.com/kybern/kybern/controllers/horizontalpodautoscaler"
	"github.com/kybern/kybern/controllers/internal/setup"
	"github.com/kybern/kybern/controllers/job"
	"github.com/kybern/kybern/controllers/metricsserver"
	"github.com/kybern/kybern/controllers/nodeauthorizer"
	"github.com/kybern/kybern/controllers/nodelifecycle"
	"github.com/kybern/kybern/controllers/podgc"
	"github.com/kybern/kybern/controllers/replicaset"
	"github.com/kybern/kybern/controllers/scheduler"
	"github.com/kybern/kybern/controllers/service"
	"github.com/kybern/kybern/controllers/serviceaccount"
	"github.com/kybern/kybern/controllers/sharedclaims"
	"github.com/kybern/kybern/controllers/statefulset"
)

// Controller is one entry of the registry: everything the manager needs to know to run a
// controller. Adding a controller is a package with a setup.Func and one entry here.
type Controller struct {
	// Name is what --controllers calls it: kube-controller-manager's name for the same
	// controller where upstream has one.
	Name string
	// Component is the source of its Events, upstream's component name.
	Component string
	// Concurrency, when set, is its --concurrent-* flag.
	Concurrency *ConcurrencyFlag
	// Setup registers it with a manager.
	Setup setup.Func
	// OffByDefault leaves it out of '*', as kube-controller-manager does with some of its
	// own: --controllers must name it.
	OffByDefault bool
}

// ConcurrencyFlag is a controller's --concurrent-* flag: how many objects it reconciles at
// once. Names and defaults are kube-controller-manager's, so that tuning carries over.
type ConcurrencyFlag struct {
	Name    string
	Default int
	Help    string
}

// Registry lists every controller, in the order they are set up.
var Registry = []Controller{
	{Name: "scheduler", Component: "default-scheduler", Setup: scheduler.SetupWithManager,
		Concurrency: &ConcurrencyFlag{"concurrent-scheduler-binds", 16, "Pods the scheduler binds at once."}},
	{Name: "replicaset", Component: "replicaset-controller", Setup: replicaset.SetupWithManager,
		Concurrency: &ConcurrencyFlag{"concurrent-replicaset-syncs", 5, "ReplicaSets reconciled at once."}},
	{Name: "deployment", Component: "deployment-controller", Setup: deployment.SetupWithManager,
		Concurrency: &ConcurrencyFlag{"concurrent-deployment-syncs", 5, "Deployments reconciled at once."}},
	{Name: "daemonset", Component: "daemonset-controller", Setup: daemonset.SetupWithManager,
		Concurrency: &ConcurrencyFlag{"concurrent-daemonset-syncs", 2, "DaemonSets reconciled at once."}},
	{Name: "statefulset", Component: "statefulset-controller", Setup: statefulset.SetupWithManager,
		Concurrency: &ConcurrencyFlag{"concurrent-statefulset-syncs", 5, "StatefulSets reconciled at once."}},
	{Name: "job", Component: "job-controller", Setup: job.SetupWithManager,
		Concurrency: &ConcurrencyFlag{"concurrent-job-syncs", 5, "Jobs reconciled at once."}},
	{Name: "cronjob", Component: "cronjob-controller", Setup: cronjob.SetupWithManager,
		Concurrency: &ConcurrencyFlag{"concurrent-cron-job-syncs", 5, "CronJobs reconciled at once."}},
	{Name: "garbagecollector", Component: "garbage-collector-controller", Setup: garbagecollector.SetupWithManager,
		Concurrency: &ConcurrencyFlag{"concurrent-gc-syncs", 20, "Objects the garbage collector processes at once."}},
	{Name: "nodelifecycle", Component: "node-controller", Setup: nodelifecycle.SetupWithManager},
	{Name: "pod-garbage-collector", Component: "pod-garbage-collector", Setup: podgc.SetupWithManager},
	{Name: "shared-directory-provisioner", Component: "shared-directory-provisioner", Setup: sharedclaims.SetupWithManager},
	{Name: "csrapproving", Component: "certificate-controller", Setup: certificates.SetupApprover},
	{Name: "csrsigning", Component: "certificate-controller", Setup: certificates.SetupSigner},
	{Name: "nodeauthorizer", Component: "node-authorizer", Setup: nodeauthorizer.SetupWithManager,
		Concurrency: &ConcurrencyFlag{"concurrent-node-authorizer-syncs", 5, "Nodes whose grants are reconciled at once."}},
	{Name: "service", Component: "service-controller", Setup: service.SetupWithManager},
	{Name: "endpointslice", Component: "endpointslice-controller", Setup: endpoints.SetupWithManager,
		Concurrency: &ConcurrencyFlag{"concurrent-service-endpoint-syncs", 5, "Services whose endpoints are reconciled at once."}},
	{Name: "metrics-server", Component: "metrics-server", Setup: metricsserver.SetupWithManager},
	{Name: "horizontalpodautoscaling", Component: "horizontal-pod-autoscaler", Setup: horizontalpodautoscaler.SetupWithManager,
		Concurrency: &ConcurrencyFlag{"concurrent-horizontal-pod-autoscaler-syncs", 5, "HorizontalPodAutoscalers evaluated at once."}},
	// A real cluster's kube-controller-manager runs these two; kybern's local control
	// plane has none.
	{Name: "serviceaccount", Component: "serviceaccount-controller", Setup: serviceaccount.SetupAccounts, OffByDefault: true},
	{Name: "root-ca-cert-publisher", Component: "root-ca-cert-publisher", Setup: serviceaccount.SetupPublisher, OffByDefault: true},
}

// Names lists the registry's controller names, in order.
func Names() []string {
	names := make([]string, len(Registry))
	for i, c := range Registry {
		names[i] = c.Name
	}
	return names
}
