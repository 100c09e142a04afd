// Package controllers is the control plane's registry: the list of controllers the
// manager runs (registry.go), the flags that choose and tune them (options.go), and the
// one loop that sets the chosen ones up (setup.go). Each controller lives in its own
// package below this one and never imports a sibling.
package controllers

import (
	"flag"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	utilnet "k8s.io/apimachinery/pkg/util/net"

	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
	"github.com/kybern/kybern/controllers/certificates"
	"github.com/kybern/kybern/controllers/internal/setup"
	"github.com/kybern/kybern/controllers/metricsserver"
	"github.com/kybern/kybern/controllers/podgc"
	"github.com/kybern/kybern/controllers/service"
)

// The manager's default client limits, across all its controllers. kube-controller-manager
// defaults to 20 QPS with a burst of 30, which makes a 1000-pod scale-up take about a
// minute; make bench measures both in the same run.
const (
	DefaultQPS   = 1000
	DefaultBurst = 2000
)

// Options chooses and configures the controllers the manager runs.
type Options struct {
	setup.Settings
	// Controllers is --controllers, as kube-controller-manager reads it: "*" runs every
	// controller, "foo" runs foo, "-foo" does not run foo; the first entry naming a
	// controller decides for it.
	Controllers []string
	// Concurrency holds the value of each controller's --concurrent-* flag, by controller
	// name.
	Concurrency map[string]int
}

// BindFlags registers every option as a flag, with upstream's names and defaults.
func (o *Options) BindFlags(fs *flag.FlagSet) {
	o.Controllers = []string{"*"}
	fs.Func("controllers", fmt.Sprintf("Comma-separated controllers to run: '*' runs all that are on by default, 'foo' runs foo, '-foo' does not run foo (default \"*\"). All: %s. Off by default: %s.",
		strings.Join(Names(), ", "), strings.Join(offByDefault(), ", ")), func(v string) error {
		o.Controllers = strings.Split(v, ",")
		return nil
	})
	o.Concurrency = map[string]int{}
	for _, c := range Registry {
		if c.Concurrency == nil {
			continue
		}
		v := c.Concurrency.Default
		o.Concurrency[c.Name] = v
		fs.Func(c.Concurrency.Name, fmt.Sprintf("%s (default %d)", c.Concurrency.Help, v), func(s string) error {
			return o.setConcurrency(c, s)
		})
	}
	fs.DurationVar(&o.NodeMonitorGracePeriod, "node-monitor-grace-period", 40*time.Second, "How long a node's Lease may go unrenewed before the node is marked unreachable.")
	fs.TextVar(&o.ClusterCIDR, "cluster-cidr", netip.MustParsePrefix(corev1alpha1.DefaultClusterCIDR), "The IPv4 CIDR, /8 to /24, that Nodes' pod CIDRs (a /24 each) come from; node agents take the same --cluster-cidr.")
	fs.TextVar(&o.ServiceClusterIPRange, "service-cluster-ip-range", netip.MustParsePrefix(corev1alpha1.DefaultServiceClusterIPRange), "The IPv4 CIDR Services' cluster IPs are allocated from, /12 to /29; its first address is kept for a kubernetes Service.")
	o.ServiceNodePortRange = *utilnet.ParsePortRangeOrDie(corev1alpha1.DefaultServiceNodePortRange)
	fs.Var(&o.ServiceNodePortRange, "service-node-port-range", "The ports NodePort and LoadBalancer Services' node ports are allocated from, as first-last.")
	fs.Int64Var(&o.DefaultNotReadyTolerationSeconds, "default-not-ready-toleration-seconds", 300, "How long a pod that states no toleration of node.kubernetes.io/not-ready:NoExecute stays on a node whose agent reports it not Ready before it is evicted.")
	fs.Int64Var(&o.DefaultUnreachableTolerationSeconds, "default-unreachable-toleration-seconds", 300, "How long a pod that states no toleration of node.kubernetes.io/unreachable:NoExecute stays on an unreachable node before it is evicted.")
	fs.StringVar(&o.ClusterSigningCertFile, "cluster-signing-cert-file", "", "PEM CA certificate the csrsigning controller signs kubernetes.io/kube-apiserver-client certificates with (the CA the apiserver trusts for client certificates); unset, it signs nothing and the cluster's own signer must.")
	fs.StringVar(&o.ClusterSigningKeyFile, "cluster-signing-key-file", "", "PEM private key of --cluster-signing-cert-file.")
	fs.DurationVar(&o.ClusterSigningDuration, "cluster-signing-duration", certificates.DefaultSigningDuration, "The longest a signed certificate is valid for; a request's expirationSeconds may ask for less.")
	fs.IntVar(&o.TerminatedPodGCThreshold, "terminated-pod-gc-threshold", 12500, "How many terminated pods (Succeeded or Failed) may exist before the pod garbage collector deletes the oldest; 0 keeps them all.")
	o.PodGCPeriod, o.PodGCQuarantine = podgc.DefaultPeriod, podgc.DefaultQuarantine
	fs.DurationVar(&o.HorizontalPodAutoscaler.SyncPeriod, "horizontal-pod-autoscaler-sync-period", 15*time.Second, "How often each HorizontalPodAutoscaler is evaluated.")
	fs.Float64Var(&o.HorizontalPodAutoscaler.Tolerance, "horizontal-pod-autoscaler-tolerance", 0.1, "How far, as a fraction, the ratio of a metric's usage to its target may be from 1 before the autoscaler scales.")
	fs.DurationVar(&o.HorizontalPodAutoscaler.DownscaleStabilization, "horizontal-pod-autoscaler-downscale-stabilization", 5*time.Minute, "How far back the autoscaler looks for a higher recommendation before it scales down, for autoscalers whose behavior sets no scale-down stabilizationWindowSeconds.")
	fs.DurationVar(&o.HorizontalPodAutoscaler.CPUInitializationPeriod, "horizontal-pod-autoscaler-cpu-initialization-period", 5*time.Minute, "How long after a pod starts its CPU usage may be skipped while it is not ready or its sample predates readiness.")
	fs.DurationVar(&o.HorizontalPodAutoscaler.InitialReadinessDelay, "horizontal-pod-autoscaler-initial-readiness-delay", 30*time.Second, "How long after a pod starts a readiness change is taken as its initial one.")
	fs.DurationVar(&o.MetricsServer.Resolution, "metric-resolution", 15*time.Second, "How often the metrics server scrapes every node agent's resource metrics.")
	fs.StringVar(&o.MetricsServer.KubeletCAFile, "kubelet-certificate-authority", "", "PEM CA bundle the node agents' serving certificates are verified with; empty, the CA the manager verifies the apiserver with.")
	fs.StringVar(&o.MetricsServer.BindAddress, "metrics-api-bind-address", "0", "host:port the metrics API (metrics.kybern.io, which kubectl kybern top reads) serves on; 0 serves none, and the autoscaler still gets usage. Without --metrics-api-service the host must be 127.0.0.1, as make run sets it.")
	fs.StringVar(&o.MetricsServer.Service, "metrics-api-service", "", "<namespace>/<name> of the Service (port 443) in front of the manager's pods that the apiserver sends metrics API requests to, as the Helm chart sets it; the Service and the APIService v1beta1.metrics.kybern.io naming it are then the deployer's (the chart has both). Empty: the manager registers its own local API.")
	fs.StringVar(&o.MetricsServer.CertDir, "metrics-api-cert-dir", "", "Directory with the metrics API's serving certificate (tls.crt, tls.key) and its CA (ca.crt); empty makes a self-signed one at start.")
	fs.StringVar(&o.RootCAFile, "root-ca-file", "", "PEM CA bundle the root-ca-cert-publisher controller publishes to every namespace as the ConfigMap kube-root-ca.crt, which pods verify the apiserver with.")
}

// setConcurrency parses a --concurrent-* flag; Validate rejects values below 1, as it
// does every other flag's, so that the manager exits 1 with one message naming the flag.
func (o *Options) setConcurrency(c Controller, s string) error {
	var n int
	if _, err := fmt.Sscan(s, &n); err != nil {
		return fmt.Errorf("not a number: %w", err)
	}
	o.Concurrency[c.Name] = n
	return nil
}

// Validate names the first flag whose value cannot work.
func (o *Options) Validate() error {
	if o.NodeMonitorGracePeriod <= 0 {
		return fmt.Errorf("--node-monitor-grace-period=%s: must be positive", o.NodeMonitorGracePeriod)
	}
	if o.TerminatedPodGCThreshold < 0 {
		return fmt.Errorf("--terminated-pod-gc-threshold=%d: must not be negative (0 keeps every terminated pod)", o.TerminatedPodGCThreshold)
	}
	if o.DefaultNotReadyTolerationSeconds < 0 {
		return fmt.Errorf("--default-not-ready-toleration-seconds=%d: must not be negative", o.DefaultNotReadyTolerationSeconds)
	}
	if o.DefaultUnreachableTolerationSeconds < 0 {
		return fmt.Errorf("--default-unreachable-toleration-seconds=%d: must not be negative", o.DefaultUnreachableTolerationSeconds)
	}
	if err := service.ValidateRanges(o.ServiceClusterIPRange, o.ServiceNodePortRange); err != nil {
		return err
	}
	if err := corev1alpha1.ValidateClusterCIDR(o.ClusterCIDR, o.ServiceClusterIPRange); err != nil {
		return err
	}
	if (o.ClusterSigningCertFile == "") != (o.ClusterSigningKeyFile == "") {
		return fmt.Errorf("--cluster-signing-cert-file=%q and --cluster-signing-key-file=%q: give both, or neither", o.ClusterSigningCertFile, o.ClusterSigningKeyFile)
	}
	if o.ClusterSigningDuration < 10*time.Second {
		return fmt.Errorf("--cluster-signing-duration=%s: must be at least 10s", o.ClusterSigningDuration)
	}
	if err := o.validateAutoscaling(); err != nil {
		return err
	}
	for _, c := range Registry {
		if c.Concurrency != nil && o.Concurrency[c.Name] < 1 {
			return fmt.Errorf("--%s=%d: must be at least 1", c.Concurrency.Name, o.Concurrency[c.Name])
		}
	}
	return o.validateControllers()
}

func (o *Options) validateAutoscaling() error {
	h := o.HorizontalPodAutoscaler
	switch {
	case h.SyncPeriod <= 0:
		return fmt.Errorf("--horizontal-pod-autoscaler-sync-period=%s: must be positive", h.SyncPeriod)
	case h.Tolerance < 0:
		return fmt.Errorf("--horizontal-pod-autoscaler-tolerance=%g: must not be negative", h.Tolerance)
	case h.DownscaleStabilization < 0:
		return fmt.Errorf("--horizontal-pod-autoscaler-downscale-stabilization=%s: must not be negative", h.DownscaleStabilization)
	case h.CPUInitializationPeriod < 0:
		return fmt.Errorf("--horizontal-pod-autoscaler-cpu-initialization-period=%s: must not be negative", h.CPUInitializationPeriod)
	case h.InitialReadinessDelay < 0:
		return fmt.Errorf("--horizontal-pod-autoscaler-initial-readiness-delay=%s: must not be negative", h.InitialReadinessDelay)
	case o.MetricsServer.Resolution < time.Second:
		return fmt.Errorf("--metric-resolution=%s: must be at least 1s", o.MetricsServer.Resolution)
	}
	return metricsserver.Validate(o.MetricsServer)
}

func (o *Options) validateControllers() error {
	names := Names()
	for _, entry := range o.Controllers {
		name := strings.TrimPrefix(strings.TrimSpace(entry), "-")
		if name != "*" && !slices.Contains(names, name) {
			return fmt.Errorf("--controllers: %q is not a controller; choose among *, %s", entry, strings.Join(names, ", "))
		}
	}
	return nil
}

// Enabled says whether --controllers runs the controller called name.
func (o *Options) Enabled(name string) bool {
	star := false
	for _, entry := range o.Controllers {
		switch strings.TrimSpace(entry) {
		case name:
			return true
		case "-" + name:
			return false
		case "*":
			star = true
		}
	}
	return star && !slices.ContainsFunc(Registry, func(c Controller) bool { return c.Name == name && c.OffByDefault })
}

// offByDefault names the controllers '*' leaves out.
func offByDefault() []string {
	var names []string
	for _, c := range Registry {
		if c.OffByDefault {
			names = append(names, c.Name)
		}
	}
	return names
}
