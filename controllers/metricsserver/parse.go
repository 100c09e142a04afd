package metricsserver

import (
	"fmt"
	"io"
	"math"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// The kubelet's resource metrics that usage is computed from.
const (
	nodeCPU          = "node_cpu_usage_seconds_total"
	nodeMemory       = "node_memory_working_set_bytes"
	containerCPU     = "container_cpu_usage_seconds_total"
	containerMemory  = "container_memory_working_set_bytes"
	containerStarted = "container_start_time_seconds"
)

// point is one measurement: cumulative CPU time and the memory working set at Time.
type point struct {
	CPU    uint64 // nanoseconds
	Memory uint64 // bytes
	Time   time.Time
}

// containerKey names a container of a pod.
type containerKey struct {
	Namespace, Pod, Container string
}

// containerPoint is a container's point and when the container started; a container that
// restarts starts its CPU counter again.
type containerPoint struct {
	point
	Start time.Time
}

// sample is what one scrape of a node agent read.
type sample struct {
	// Node is nil when the agent reported no node usage.
	Node       *point
	Containers map[containerKey]containerPoint
}

// parse reads a /metrics/resource response. A container is kept only when both its CPU and
// memory were reported; samples without a timestamp are measured at now.
func parse(r io.Reader, now time.Time) (sample, error) {
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(r)
	if err != nil {
		return sample{}, fmt.Errorf("reading resource metrics: %w", err)
	}
	out := sample{Containers: map[containerKey]containerPoint{}}
	cpu, memory := map[containerKey]*dto.Metric{}, map[containerKey]*dto.Metric{}
	started := map[containerKey]float64{}
	var nodeCPUSample, nodeMemorySample *dto.Metric
	for name, family := range families {
		for _, m := range family.GetMetric() {
			switch name {
			case nodeCPU:
				nodeCPUSample = m
			case nodeMemory:
				nodeMemorySample = m
			case containerCPU:
				cpu[keyOf(m)] = m
			case containerMemory:
				memory[keyOf(m)] = m
			case containerStarted:
				started[keyOf(m)] = value(m)
			}
		}
	}
	if nodeCPUSample != nil && nodeMemorySample != nil {
		out.Node = &point{CPU: seconds(value(nodeCPUSample)), Memory: bytes(value(nodeMemorySample)), Time: at(nodeCPUSample, now)}
	}
	for key, c := range cpu {
		m, ok := memory[key]
		if !ok || key.Pod == "" || key.Container == "" {
			continue
		}
		p := containerPoint{point: point{CPU: seconds(value(c)), Memory: bytes(value(m)), Time: at(c, now)}}
		if s, ok := started[key]; ok && s > 0 {
			p.Start = time.Unix(0, int64(s*1e9))
		}
		out.Containers[key] = p
	}
	return out, nil
}

func keyOf(m *dto.Metric) containerKey {
	var k containerKey
	for _, l := range m.GetLabel() {
		switch l.GetName() {
		case "namespace":
			k.Namespace = l.GetValue()
		case "pod":
			k.Pod = l.GetValue()
		case "container":
			k.Container = l.GetValue()
		}
	}
	return k
}

// value is a gauge's, counter's or untyped sample's value.
func value(m *dto.Metric) float64 {
	switch {
	case m.Counter != nil:
		return m.GetCounter().GetValue()
	case m.Gauge != nil:
		return m.GetGauge().GetValue()
	default:
		return m.GetUntyped().GetValue()
	}
}

func at(m *dto.Metric, now time.Time) time.Time {
	if m.TimestampMs == nil {
		return now
	}
	return time.UnixMilli(m.GetTimestampMs())
}

// seconds converts core-seconds to nanoseconds; negative and non-finite values count as 0.
func seconds(v float64) uint64 {
	if v <= 0 || math.IsNaN(v) || math.IsInf(v, 0) {
		return 0
	}
	return uint64(v * 1e9)
}

func bytes(v float64) uint64 {
	if v <= 0 || math.IsNaN(v) || math.IsInf(v, 0) {
		return 0
	}
	return uint64(v)
}
