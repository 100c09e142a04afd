// Package setup is the contract between the controller registry (package controllers) and
// each controller package: one Func signature, and the Config every controller receives.
// It is a leaf so that controller packages can depend on it without depending on each
// other or on the registry.
package setup

import (
	"context"
	"net/netip"
	"time"

	utilnet "k8s.io/apimachinery/pkg/util/net"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/kybern/kybern/controllers/internal/placement"
	"github.com/kybern/kybern/controllers/internal/resourcemetrics"
)

// Func registers one controller with mgr. ctx bounds the informers and indexes it starts.
// It must not start goroutines of its own: the manager starts the controller.
type Func func(ctx context.Context, mgr ctrl.Manager, cfg Config) error

// Settings are the manager flags that belong to one controller each but are not a
// concurrency: the registry parses them once and hands them to every controller.
type Settings struct {
	// NodeMonitorGracePeriod is how long a node's Lease may go unrenewed before the node
	// is unreachable (node lifecycle).
	NodeMonitorGracePeriod time.Duration
	// DefaultNotReadyTolerationSeconds and DefaultUnreachableTolerationSeconds are how
	// long a pod that states no toleration of the not-ready or unreachable NoExecute taint
	// stays on a node that has it (node lifecycle).
	DefaultNotReadyTolerationSeconds, DefaultUnreachableTolerationSeconds int64
	// ClusterCIDR is the IPv4 CIDR Nodes' pod CIDRs come from (node lifecycle).
	ClusterCIDR netip.Prefix
	// ServiceClusterIPRange is the IPv4 CIDR Services' cluster IPs come from (service).
	ServiceClusterIPRange netip.Prefix
	// ServiceNodePortRange holds the node ports of NodePort and LoadBalancer Services
	// (service).
	ServiceNodePortRange utilnet.PortRange
	// ClusterSigningCertFile and ClusterSigningKeyFile are the CA the csrsigning
	// controller signs client certificates with, for ClusterSigningDuration at most; unset,
	// it signs nothing (certificates).
	ClusterSigningCertFile, ClusterSigningKeyFile string
	ClusterSigningDuration                        time.Duration
	// RootCAFile is the CA bundle published to every namespace as kube-root-ca.crt
	// (root-ca-cert-publisher).
	RootCAFile string
	// TerminatedPodGCThreshold is how many terminated pods may exist before the oldest
	// are deleted; 0 keeps them all (pod-garbage-collector).
	TerminatedPodGCThreshold int
	// PodGCPeriod and PodGCQuarantine are how often the pod garbage collector runs and
	// how long a Node must be missing before its pods count as orphaned; upstream has no
	// flags for them, and only tests shorten them.
	PodGCPeriod, PodGCQuarantine time.Duration
	// HorizontalPodAutoscaler holds the autoscaler's flags (horizontalpodautoscaler).
	HorizontalPodAutoscaler HPASettings
	// MetricsServer holds the metrics server's flags (metrics-server).
	MetricsServer MetricsServerSettings
}

// MetricsServerSettings are the metrics server's flags: metrics-server's names where it has
// the same setting.
type MetricsServerSettings struct {
	// Resolution is how often every node agent is scraped.
	Resolution time.Duration
	// KubeletCAFile verifies the node agents' serving certificates; empty, the CA the
	// manager verifies the apiserver with.
	KubeletCAFile string
	// BindAddress is host:port the metrics API serves on; "0" serves none (the autoscaler
	// still reads usage in-process).
	BindAddress string
	// Service, "<namespace>/<name>", is the Service (port 443) in front of the manager's
	// pods that the apiserver sends metrics API requests to; empty, BindAddress's host
	// must be loopback and the manager keeps an ExternalName Service for it.
	Service string
	// CertDir holds the API's tls.crt, tls.key and ca.crt; empty, the manager makes a
	// self-signed certificate at start.
	CertDir string
}

// HPASettings are kube-controller-manager's --horizontal-pod-autoscaler-* flags.
type HPASettings struct {
	// SyncPeriod is how often each autoscaler is evaluated.
	SyncPeriod time.Duration
	// Tolerance is the relative distance from the target within which no scaling happens.
	Tolerance float64
	// DownscaleStabilization is the default scale-down stabilization window, for
	// autoscalers whose behavior does not set one.
	DownscaleStabilization time.Duration
	// CPUInitializationPeriod is how long after a pod starts its CPU samples may be skipped.
	CPUInitializationPeriod time.Duration
	// InitialReadinessDelay is how long after a pod starts its readiness changes are taken
	// as not yet initialised.
	InitialReadinessDelay time.Duration
}

// Config is what one controller's Func receives.
type Config struct {
	Settings
	// Concurrency is the value of the controller's --concurrent-* flag; 0 for a controller
	// that has none.
	Concurrency int
	// Recorder records Events under the controller's upstream component name.
	Recorder record.EventRecorder
	// Clock is the wall clock; tests that need another build the reconciler themselves.
	Clock clock.Clock
	// Placement lets workload controllers create pods already bound; it places nothing
	// when the scheduler does not run in this manager.
	Placement *placement.Relay
	// ResourceMetrics is the metrics server's latest pod and node usage, which it writes
	// and the autoscaler reads; it holds nothing when the metrics server does not run in
	// this manager.
	ResourceMetrics *resourcemetrics.Store
}
