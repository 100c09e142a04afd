package server

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/go-logr/logr"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	statsv1alpha1 "k8s.io/kubelet/pkg/apis/stats/v1alpha1"

	"github.com/kybern/kybern/node-agent/runtime"
	"github.com/kybern/kybern/node-agent/stats"
)

// measured is a runtime and node whose usage is fixed, or fails with err.
type measured struct {
	runtime.Runtime
	node       stats.NodeStats
	containers []runtime.ContainerStats
	err        error
}

func (m *measured) ContainerStats(context.Context) ([]runtime.ContainerStats, error) {
	return m.containers, m.err
}

func (m *measured) NodeStats(context.Context) (stats.NodeStats, error) { return m.node, nil }

var (
	t0  = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	web = runtime.PodRef{UID: "uid-web", Namespace: "shop", Name: "web"}
	db  = runtime.PodRef{UID: "uid-db", Namespace: "shop", Name: "db"}
)

// usage is a node that has used 100 core-seconds and holds 1Gi, running web (app, 1.5
// core-seconds and 3Mi; sidecar, 0.5 and 1Mi) and db (idle, 2Mi).
func usage() *measured {
	return &measured{
		node: stats.NodeStats{Timestamp: t0, CPUUsageNanoseconds: 100e9, MemoryWorkingSetBytes: 1 << 30},
		containers: []runtime.ContainerStats{
			{ID: "c2", Pod: web, Name: "sidecar", StartedAt: t0.Add(-time.Minute), Timestamp: t0.Add(time.Second), CPUUsageNanoseconds: 5e8, MemoryWorkingSetBytes: 1 << 20},
			{ID: "c3", Pod: db, Name: "db", StartedAt: t0.Add(-time.Hour), Timestamp: t0, MemoryWorkingSetBytes: 2 << 20},
			{ID: "c1", Pod: web, Name: "app", StartedAt: t0.Add(-2 * time.Minute), Timestamp: t0, CPUUsageNanoseconds: 15e8, MemoryWorkingSetBytes: 3 << 20},
		},
	}
}

func TestBuildSummary(t *testing.T) {
	m := usage()
	sum := buildSummary("n1", m.node, m.containers)
	if sum.Node.NodeName != "n1" || *sum.Node.CPU.UsageCoreNanoSeconds != 100e9 || *sum.Node.Memory.WorkingSetBytes != 1<<30 {
		t.Errorf("node = %+v", sum.Node)
	}
	if len(sum.Pods) != 2 || sum.Pods[0].PodRef.Name != "db" || sum.Pods[1].PodRef != (statsv1alpha1.PodReference{Name: "web", Namespace: "shop", UID: "uid-web"}) {
		t.Fatalf("pods = %+v, want db then web, with their UIDs", sum.Pods)
	}
	w := sum.Pods[1]
	if len(w.Containers) != 2 || w.Containers[0].Name != "app" || w.Containers[1].Name != "sidecar" {
		t.Fatalf("web's containers = %+v, want app then sidecar", w.Containers)
	}
	if *w.CPU.UsageCoreNanoSeconds != 2e9 || *w.Memory.WorkingSetBytes != 4<<20 {
		t.Errorf("web uses %d ns and %d bytes, want its containers' sum, 2e9 and 4Mi", *w.CPU.UsageCoreNanoSeconds, *w.Memory.WorkingSetBytes)
	}
	if !w.CPU.Time.Time.Equal(t0.Add(time.Second)) || !w.StartTime.Time.Equal(t0.Add(-2*time.Minute)) {
		t.Errorf("web measured at %v and started at %v, want its last container's measurement and its first container's start", w.CPU.Time, w.StartTime)
	}
	if w.CPU.UsageNanoCores != nil {
		t.Error("a rate is reported with no earlier sample to take it from")
	}
	if empty := buildSummary("n1", m.node, nil); empty.Pods == nil {
		t.Error("a node without pods lists pods as null, want []")
	}
}

// scrape reads /metrics/resource from s and parses it back.
func scrape(t *testing.T, s *Server) map[string]*dto.MetricFamily {
	t.Helper()
	rec := httptest.NewRecorder()
	s.resourceMetrics(rec, httptest.NewRequest(http.MethodGet, "/metrics/resource", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	families, err := p.TextToMetricFamilies(rec.Body)
	if err != nil {
		t.Fatal(err)
	}
	return families
}

// metric is the value and timestamp (ms; 0 for none) of family's metric with labels.
func metric(t *testing.T, families map[string]*dto.MetricFamily, family string, labels map[string]string) (float64, int64) {
	t.Helper()
	f, ok := families[family]
	if !ok {
		t.Fatalf("no %s", family)
	}
	for _, m := range f.Metric {
		got := map[string]string{}
		for _, l := range m.Label {
			got[l.GetName()] = l.GetValue()
		}
		if len(got) != len(labels) {
			continue
		}
		match := true
		for k, v := range labels {
			match = match && got[k] == v
		}
		if !match {
			continue
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue(), m.GetTimestampMs()
		case m.Gauge != nil:
			return m.Gauge.GetValue(), m.GetTimestampMs()
		}
	}
	t.Fatalf("no %s%v", family, labels)
	return 0, 0
}

func TestResourceMetrics(t *testing.T) {
	m := usage()
	families := scrape(t, &Server{Node: "n1", Runtime: m, NodeStats: m, Log: logr.Discard()})
	ms := t0.UnixMilli()
	app := map[string]string{"container": "app", "pod": "web", "namespace": "shop"}
	webPod := map[string]string{"pod": "web", "namespace": "shop"}
	for _, tc := range []struct {
		family string
		labels map[string]string
		value  float64
		ts     int64
	}{
		{"node_cpu_usage_seconds_total", nil, 100, ms},
		{"node_memory_working_set_bytes", nil, 1 << 30, ms},
		{"container_cpu_usage_seconds_total", app, 1.5, ms},
		{"container_memory_working_set_bytes", app, 3 << 20, ms},
		{"container_start_time_seconds", app, float64(t0.Add(-2 * time.Minute).Unix()), 0},
		{"pod_cpu_usage_seconds_total", webPod, 2, ms + 1000},
		{"pod_memory_working_set_bytes", webPod, 4 << 20, ms + 1000},
		{"pod_memory_working_set_bytes", map[string]string{"pod": "db", "namespace": "shop"}, 2 << 20, ms},
		{"scrape_error", nil, 0, 0},
		{"resource_scrape_error", nil, 0, 0},
	} {
		v, ts := metric(t, families, tc.family, tc.labels)
		if v != tc.value || ts != tc.ts {
			t.Errorf("%s%v = %v at %d, want %v at %d", tc.family, tc.labels, v, ts, tc.value, tc.ts)
		}
	}
	if got := families["container_cpu_usage_seconds_total"].GetType(); got != dto.MetricType_COUNTER {
		t.Errorf("container_cpu_usage_seconds_total is a %v, want a counter", got)
	}
	if got := len(families["container_memory_working_set_bytes"].Metric); got != 3 {
		t.Errorf("%d container working sets, want 3", got)
	}
}

func TestResourceMetricsOfAFailedMeasurement(t *testing.T) {
	m := usage()
	m.err = errors.New("containerd is down")
	families := scrape(t, &Server{Node: "n1", Runtime: m, NodeStats: m, Log: logr.Discard()})
	if v, _ := metric(t, families, "scrape_error", nil); v != 1 {
		t.Errorf("scrape_error = %v, want 1", v)
	}
	if len(families) != 2 {
		t.Errorf("a failed measurement serves %d families, want scrape_error and resource_scrape_error alone", len(families))
	}
}

func TestStatsSummary(t *testing.T) {
	m := usage()
	s := &Server{Node: "n1", Runtime: m, NodeStats: m, Log: logr.Discard()}
	rec := httptest.NewRecorder()
	s.statsSummary(rec, httptest.NewRequest(http.MethodGet, "/stats/summary", nil))
	var sum statsv1alpha1.Summary
	if err := json.Unmarshal(rec.Body.Bytes(), &sum); err != nil || rec.Code != http.StatusOK {
		t.Fatalf("status %d, %v: %s", rec.Code, err, rec.Body)
	}
	if len(sum.Pods) != 2 || *sum.Pods[1].Containers[0].CPU.UsageCoreNanoSeconds != 15e8 || !sum.Node.CPU.Time.Time.Equal(t0) {
		t.Errorf("summary = %+v", sum)
	}
	m.err = errors.New("containerd is down")
	rec = httptest.NewRecorder()
	s.statsSummary(rec, httptest.NewRequest(http.MethodGet, "/stats/summary", nil))
	if rec.Code != http.StatusInternalServerError {
		t.Errorf("a failed measurement answers %d, want 500", rec.Code)
	}
}
