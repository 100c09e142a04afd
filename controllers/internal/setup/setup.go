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
	// DefaultUnreachableTolerationSeconds is how long a pod that states no toleration of
	// the unreachable taint stays on an unreachable node (node lifecycle).
	DefaultUnreachableTolerationSeconds int64
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
}
