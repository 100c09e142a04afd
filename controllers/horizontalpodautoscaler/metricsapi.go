package horizontalpodautoscaler

import (
	"errors"
	"fmt"
	"sync"
	"time"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/rest"
	metricsv1beta1 "k8s.io/metrics/pkg/apis/metrics/v1beta1"
	customclient "k8s.io/metrics/pkg/client/custom_metrics"
	externalclient "k8s.io/metrics/pkg/client/external_metrics"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"

	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
	"github.com/kybern/kybern/controllers/internal/resourcemetrics"
)

// The metrics APIs that Pods, Object and External metric sources read, served by adapters
// (prometheus-adapter, KEDA, …) that register themselves as APIServices.
const (
	customMetricsGroup   = "custom.metrics.k8s.io"
	externalMetricsGroup = "external.metrics.k8s.io"
)

// customMetricsWindow is the window of a custom metric sample that states none, upstream's.
const customMetricsWindow = time.Minute

// MetricsAPIs reads the custom metrics API, for Pods and Object metric sources, and the
// external metrics API, for External ones. Values are in milli-units.
type MetricsAPIs interface {
	// PodsMetric is metric of each pod that selector matches in namespace, by pod name;
	// it is an error that there is none.
	PodsMetric(namespace, metric string, selector, metricSelector labels.Selector) (PodMetrics, error)
	// ObjectMetric is metric of the object ref names in namespace.
	ObjectMetric(namespace, metric string, ref autoscalingv2.CrossVersionObjectReference, metricSelector labels.Selector) (int64, error)
	// ExternalMetric lists the values of metric that metricSelector matches for namespace;
	// it is an error that there is none.
	ExternalMetric(namespace, metric string, metricSelector labels.Selector) ([]int64, error)
}

// notServedError says that a metrics API the autoscaler needs is not served, and how to
// serve it.
func notServedError(group string) error {
	return fmt.Errorf("the %s API is not served by this cluster: install a metrics adapter that serves it (prometheus-adapter or KEDA, for example) and registers it as an APIService", group)
}

// clusterMetricsAPIs is the MetricsAPIs of the cluster. Each call first checks through
// discovery that the API's group is served, and fails with notServedError if it is not, so
// that the autoscaler's condition says what to install instead of a client's 404.
type clusterMetricsAPIs struct {
	groups   *servedGroups
	custom   customclient.CustomMetricsClient
	external externalclient.ExternalMetricsClient
}

var _ MetricsAPIs = (*clusterMetricsAPIs)(nil)

// newClusterMetricsAPIs reaches the metrics APIs through cfg, rediscovering which are
// served at most once per recheck.
func newClusterMetricsAPIs(cfg *rest.Config, mapper meta.RESTMapper, clk clock.PassiveClock, recheck time.Duration) (*clusterMetricsAPIs, error) {
	disco, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return nil, err
	}
	external, err := externalclient.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	versions := customclient.NewAvailableAPIsGetter(disco)
	return &clusterMetricsAPIs{
		groups:   &servedGroups{discovery: disco, clock: clk, ttl: recheck, refreshed: versions.Invalidate},
		custom:   customclient.NewForConfig(cfg, mapper, versions),
		external: external,
	}, nil
}

// PodsMetric implements MetricsAPIs.
func (c *clusterMetricsAPIs) PodsMetric(namespace, metric string, selector, metricSelector labels.Selector) (PodMetrics, error) {
	if err := c.groups.require(customMetricsGroup); err != nil {
		return nil, err
	}
	list, err := c.custom.NamespacedMetrics(namespace).GetForObjects(schema.GroupKind{Kind: "Pod"}, selector, metric, metricSelector)
	if err != nil {
		return nil, fmt.Errorf("unable to fetch metrics from custom metrics API: %w", err)
	}
	if len(list.Items) == 0 {
		return nil, errors.New("no metrics returned from custom metrics API")
	}
	out := make(PodMetrics, len(list.Items))
	for _, m := range list.Items {
		window := customMetricsWindow
		if m.WindowSeconds != nil {
			window = time.Duration(*m.WindowSeconds) * time.Second
		}
		out[m.DescribedObject.Name] = PodMetric{Timestamp: m.Timestamp.Time, Window: window, Value: m.Value.MilliValue()}
	}
	return out, nil
}

// ObjectMetric implements MetricsAPIs. A Namespace is described by the autoscaler's own,
// whatever name ref gives, so that a reference cannot leave the namespace.
func (c *clusterMetricsAPIs) ObjectMetric(namespace, metric string, ref autoscalingv2.CrossVersionObjectReference, metricSelector labels.Selector) (int64, error) {
	if err := c.groups.require(customMetricsGroup); err != nil {
		return 0, err
	}
	gk := schema.FromAPIVersionAndKind(ref.APIVersion, ref.Kind).GroupKind()
	metrics, name := c.custom.NamespacedMetrics(namespace), ref.Name
	if gk == (schema.GroupKind{Kind: "Namespace"}) {
		metrics, name = c.custom.RootScopedMetrics(), namespace
	}
	v, err := metrics.GetForObject(gk, name, metric, metricSelector)
	if err != nil {
		return 0, fmt.Errorf("unable to fetch metrics from custom metrics API: %w", err)
	}
	return v.Value.MilliValue(), nil
}

// ExternalMetric implements MetricsAPIs.
func (c *clusterMetricsAPIs) ExternalMetric(namespace, metric string, metricSelector labels.Selector) ([]int64, error) {
	if err := c.groups.require(externalMetricsGroup); err != nil {
		return nil, err
	}
	list, err := c.external.NamespacedMetrics(namespace).List(metric, metricSelector)
	if err != nil {
		return nil, fmt.Errorf("unable to fetch metrics from external metrics API: %w", err)
	}
	if len(list.Items) == 0 {
		return nil, errors.New("no metrics returned from external metrics API")
	}
	out := make([]int64, len(list.Items))
	for i, m := range list.Items {
		out[i] = m.Value.MilliValue()
	}
	return out, nil
}

// servedGroups knows which API groups the apiserver serves, asking discovery again once
// its answer is ttl old, since an adapter may be installed or removed at any time.
type servedGroups struct {
	discovery discovery.ServerGroupsInterface
	clock     clock.PassiveClock
	ttl       time.Duration
	// refreshed runs after each discovery, so that a client caching the custom metrics
	// API's preferred version picks up a change too.
	refreshed func()

	mu      sync.Mutex
	checked time.Time
	groups  sets.Set[string]
}

// require fails with notServedError unless group is served.
func (s *servedGroups) require(group string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.groups == nil || s.clock.Since(s.checked) >= s.ttl {
		list, err := s.discovery.ServerGroups()
		if err != nil {
			return fmt.Errorf("discovering the served API groups: %w", err)
		}
		s.groups = sets.New[string]()
		for _, g := range list.Groups {
			s.groups.Insert(g.Name)
		}
		s.checked = s.clock.Now()
		s.refreshed()
	}
	if !s.groups.Has(group) {
		return notServedError(group)
	}
	return nil
}

// resourceUsage is each pod's usage of resource as usage reports it, in milli-units:
// summed over the pod's containers, or of the named container alone. As upstream's metrics
// client (pkg/controller/podautoscaler/metrics/client.go), a pod is left out when some
// container's sample lacks the resource, or the named container has no sample; it is an
// error only that none of the pods has a sample at all.
func resourceUsage(usage resourcemetrics.Reader, pods []*corev1alpha1.Pod, resource corev1.ResourceName, container string) (PodMetrics, error) {
	out, sampled := PodMetrics{}, false
	for _, p := range pods {
		m, ok := usage.Pod(client.ObjectKeyFromObject(p))
		if !ok {
			continue
		}
		sampled = true
		if v, ok := sampleOf(m, resource, container); ok {
			out[p.Name] = PodMetric{Timestamp: m.Timestamp.Time, Window: m.Window.Duration, Value: v}
		}
	}
	if !sampled {
		return nil, errors.New("no metrics returned from resource metrics API")
	}
	return out, nil
}

// sampleOf is m's usage of resource: the named container's, or the sum over all; false
// when the sample lacks it.
func sampleOf(m metricsv1beta1.PodMetrics, resource corev1.ResourceName, container string) (int64, bool) {
	if container != "" {
		for _, c := range m.Containers {
			if c.Name == container {
				q, ok := c.Usage[resource]
				return q.MilliValue(), ok
			}
		}
		return 0, false
	}
	var sum int64
	for _, c := range m.Containers {
		q, ok := c.Usage[resource]
		if !ok {
			return 0, false
		}
		sum += q.MilliValue()
	}
	return sum, len(m.Containers) > 0
}
