// Package controllers wires the control plane's controllers into one manager. Each
// controller lives in its own package below this one; this package holds what they share:
// the options main.go parses and the list that registers them.
package controllers

import (
	"flag"
	"fmt"
)

// The manager's default client limits, across all its controllers. kube-controller-manager
// defaults to 20 QPS with a burst of 30, which makes a 1000-pod scale-up take about a
// minute; make bench measures both in the same run.
const (
	DefaultQPS   = 1000
	DefaultBurst = 2000
)

// Concurrency is how many objects of a kind each controller reconciles at once. The
// defaults are kube-controller-manager's --concurrent-*-syncs defaults, and so are the flag
// names, so that an operator's tuning carries over.
type Concurrency struct {
	// ReplicaSet is --concurrent-replicaset-syncs.
	ReplicaSet int
	// Deployment is --concurrent-deployment-syncs.
	Deployment int
	// DaemonSet is --concurrent-daemonset-syncs.
	DaemonSet int
	// StatefulSet is --concurrent-statefulset-syncs.
	StatefulSet int
	// Job is --concurrent-job-syncs.
	Job int
	// CronJob is --concurrent-cron-job-syncs.
	CronJob int
	// GarbageCollector is --concurrent-gc-syncs.
	GarbageCollector int
	// Endpoints is --concurrent-service-endpoint-syncs.
	Endpoints int
	// HorizontalPodAutoscaler is --concurrent-horizontal-pod-autoscaler-syncs.
	HorizontalPodAutoscaler int
	// Scheduler is --concurrent-scheduler-binds: pods bound at once.
	Scheduler int
}

// BindFlags registers one flag per field, with upstream's defaults.
func (c *Concurrency) BindFlags(fs *flag.FlagSet) {
	for _, f := range c.fields() {
		fs.IntVar(f.value, f.flag, f.def, f.help)
	}
}

// Validate names the first flag whose value cannot work.
func (c *Concurrency) Validate() error {
	for _, f := range c.fields() {
		if *f.value < 1 {
			return fmt.Errorf("--%s=%d: must be at least 1", f.flag, *f.value)
		}
	}
	return nil
}

type concurrencyFlag struct {
	flag  string
	def   int
	help  string
	value *int
}

func (c *Concurrency) fields() []concurrencyFlag {
	return []concurrencyFlag{
		{"concurrent-replicaset-syncs", 5, "ReplicaSets reconciled at once.", &c.ReplicaSet},
		{"concurrent-deployment-syncs", 5, "Deployments reconciled at once.", &c.Deployment},
		{"concurrent-daemonset-syncs", 2, "DaemonSets reconciled at once.", &c.DaemonSet},
		{"concurrent-statefulset-syncs", 5, "StatefulSets reconciled at once.", &c.StatefulSet},
		{"concurrent-job-syncs", 5, "Jobs reconciled at once.", &c.Job},
		{"concurrent-cron-job-syncs", 5, "CronJobs reconciled at once.", &c.CronJob},
		{"concurrent-gc-syncs", 20, "Objects the garbage collector processes at once.", &c.GarbageCollector},
		{"concurrent-service-endpoint-syncs", 5, "Services whose endpoints are reconciled at once.", &c.Endpoints},
		{"concurrent-horizontal-pod-autoscaler-syncs", 5, "HorizontalPodAutoscalers reconciled at once.", &c.HorizontalPodAutoscaler},
		{"concurrent-scheduler-binds", 16, "Pods the scheduler binds at once.", &c.Scheduler},
	}
}
