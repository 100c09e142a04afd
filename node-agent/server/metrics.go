package server

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	statsv1alpha1 "k8s.io/kubelet/pkg/apis/stats/v1alpha1"
)

// The kubelet's resource metrics (pkg/kubelet/metrics/collectors/resource_metrics.go):
// the same names and labels, so that a metrics server reads kybern's nodes as kubelets.
var (
	nodeCPUDesc = prometheus.NewDesc("node_cpu_usage_seconds_total",
		"CPU time the node has used since it started, in core-seconds", nil, nil)
	nodeMemoryDesc = prometheus.NewDesc("node_memory_working_set_bytes",
		"The node's memory working set, in bytes", nil, nil)
	containerCPUDesc = prometheus.NewDesc("container_cpu_usage_seconds_total",
		"CPU time the container has used since it started, in core-seconds", []string{"container", "pod", "namespace"}, nil)
	containerMemoryDesc = prometheus.NewDesc("container_memory_working_set_bytes",
		"The container's memory working set, in bytes", []string{"container", "pod", "namespace"}, nil)
	containerStartDesc = prometheus.NewDesc("container_start_time_seconds",
		"When the container started, in seconds since the Unix epoch", []string{"container", "pod", "namespace"}, nil)
	podCPUDesc = prometheus.NewDesc("pod_cpu_usage_seconds_total",
		"CPU time the pod's running containers have used, in core-seconds", []string{"pod", "namespace"}, nil)
	podMemoryDesc = prometheus.NewDesc("pod_memory_working_set_bytes",
		"The memory working set of the pod's running containers, in bytes", []string{"pod", "namespace"}, nil)
	// The kubelet reports a failed measurement under both names, the older stable one and
	// scrape_error.
	scrapeErrorDesc = prometheus.NewDesc("scrape_error",
		"1 if measuring the node's or its containers' usage failed, 0 otherwise", nil, nil)
	resourceScrapeErrorDesc = prometheus.NewDesc("resource_scrape_error",
		"1 if measuring the node's or its containers' usage failed, 0 otherwise", nil, nil)
)

// resourceMetrics serves /metrics/resource: the kubelet's resource metrics in the
// Prometheus exposition format its client asks for (text by default), each usage sample
// stamped with when it was measured. A failed measurement is logged and served as
// scrape_error 1 with no samples, as the kubelet serves it.
func (s *Server) resourceMetrics(w http.ResponseWriter, r *http.Request) {
	sum, err := s.summary(r.Context())
	if err != nil {
		s.Log.Error(err, "Measuring usage for /metrics/resource")
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(summaryCollector{summary: sum})
	promhttp.HandlerFor(reg, promhttp.HandlerOpts{}).ServeHTTP(w, r)
}

// summaryCollector turns one Summary into the resource metrics; a nil summary is a failed
// measurement.
type summaryCollector struct {
	summary *statsv1alpha1.Summary
}

// Describe implements prometheus.Collector.
func (summaryCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{nodeCPUDesc, nodeMemoryDesc, containerCPUDesc, containerMemoryDesc, containerStartDesc,
		podCPUDesc, podMemoryDesc, scrapeErrorDesc, resourceScrapeErrorDesc} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c summaryCollector) Collect(ch chan<- prometheus.Metric) {
	failed := 0.0
	if c.summary == nil {
		failed = 1
	}
	ch <- prometheus.MustNewConstMetric(scrapeErrorDesc, prometheus.GaugeValue, failed)
	ch <- prometheus.MustNewConstMetric(resourceScrapeErrorDesc, prometheus.GaugeValue, failed)
	if c.summary == nil {
		return
	}
	n := c.summary.Node
	ch <- cpuSample(nodeCPUDesc, n.CPU)
	ch <- memorySample(nodeMemoryDesc, n.Memory)
	for _, p := range c.summary.Pods {
		for _, ctr := range p.Containers {
			labels := []string{ctr.Name, p.PodRef.Name, p.PodRef.Namespace}
			ch <- cpuSample(containerCPUDesc, ctr.CPU, labels...)
			ch <- memorySample(containerMemoryDesc, ctr.Memory, labels...)
			if ctr.StartTime.Unix() > 0 {
				ch <- prometheus.MustNewConstMetric(containerStartDesc, prometheus.GaugeValue, seconds(float64(ctr.StartTime.UnixNano())), labels...)
			}
		}
		ch <- cpuSample(podCPUDesc, p.CPU, p.PodRef.Name, p.PodRef.Namespace)
		ch <- memorySample(podMemoryDesc, p.Memory, p.PodRef.Name, p.PodRef.Namespace)
	}
}

// cpuSample is the counter of s's cumulative CPU time in core-seconds, stamped with s's time.
func cpuSample(d *prometheus.Desc, s *statsv1alpha1.CPUStats, labels ...string) prometheus.Metric {
	m := prometheus.MustNewConstMetric(d, prometheus.CounterValue, seconds(float64(*s.UsageCoreNanoSeconds)), labels...)
	return prometheus.NewMetricWithTimestamp(s.Time.Time, m)
}

// memorySample is the gauge of s's working set, stamped with s's time.
func memorySample(d *prometheus.Desc, s *statsv1alpha1.MemoryStats, labels ...string) prometheus.Metric {
	m := prometheus.MustNewConstMetric(d, prometheus.GaugeValue, float64(*s.WorkingSetBytes), labels...)
	return prometheus.NewMetricWithTimestamp(s.Time.Time, m)
}

// seconds turns nanoseconds into seconds.
func seconds(ns float64) float64 { return ns / float64(time.Second) }
