package metricsserver

import (
	"sort"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	metricsv1beta1 "k8s.io/metrics/pkg/apis/metrics/v1beta1"
)

// rate is CPU used between two points, in nanocores, over their window.
type rate struct {
	nanocores int64
	window    time.Duration
}

// between is the CPU rate from prev to cur; false when cur is not later or the counter went
// backwards (the process behind it restarted).
func between(prev, cur point) (rate, bool) {
	window := cur.Time.Sub(prev.Time)
	if window <= 0 || cur.CPU < prev.CPU {
		return rate{}, false
	}
	return rate{nanocores: int64(float64(cur.CPU-prev.CPU) / window.Seconds()), window: window}, true
}

// containerRate is a container's CPU rate: against its previous point when that is of the
// same run (same start time), else, for a container that started within fresh of cur,
// against its start, when its counter was 0. A container first seen long after it
// started has no rate until the next scrape: its average since start is not its usage now.
func containerRate(prev *containerPoint, cur containerPoint, fresh time.Duration) (rate, bool) {
	if prev != nil && prev.Start.Equal(cur.Start) {
		if r, ok := between(prev.point, cur.point); ok {
			return r, true
		}
	}
	if cur.Start.IsZero() || cur.Time.Sub(cur.Start) > fresh {
		return rate{}, false
	}
	return between(point{Time: cur.Start}, cur.point)
}

// usage turns two consecutive samples of node into metrics.k8s.io's objects: the node's and
// those of the pods all of whose containers have a rate (a pod with a container missing
// is left out, as metrics-server does, rather than reported low). prev may be empty.
func usage(node string, prev, cur sample, fresh time.Duration) (*metricsv1beta1.NodeMetrics, []metricsv1beta1.PodMetrics) {
	var nodeMetrics *metricsv1beta1.NodeMetrics
	if prev.Node != nil && cur.Node != nil {
		if r, ok := between(*prev.Node, *cur.Node); ok {
			nodeMetrics = &metricsv1beta1.NodeMetrics{
				ObjectMeta: metav1.ObjectMeta{Name: node},
				Timestamp:  metav1.NewTime(cur.Node.Time), Window: metav1.Duration{Duration: r.window},
				Usage: resourceList(r.nanocores, cur.Node.Memory),
			}
		}
	}
	type podState struct {
		metrics  metricsv1beta1.PodMetrics
		complete bool
	}
	pods := map[types.NamespacedName]*podState{}
	for key, c := range cur.Containers {
		name := types.NamespacedName{Namespace: key.Namespace, Name: key.Pod}
		p := pods[name]
		if p == nil {
			p = &podState{metrics: metricsv1beta1.PodMetrics{ObjectMeta: metav1.ObjectMeta{Namespace: key.Namespace, Name: key.Pod}}, complete: true}
			pods[name] = p
		}
		var before *containerPoint
		if b, ok := prev.Containers[key]; ok {
			before = &b
		}
		r, ok := containerRate(before, c, fresh)
		if !ok {
			p.complete = false
			continue
		}
		if c.Time.After(p.metrics.Timestamp.Time) {
			p.metrics.Timestamp = metav1.NewTime(c.Time)
		}
		p.metrics.Window.Duration = max(p.metrics.Window.Duration, r.window)
		p.metrics.Containers = append(p.metrics.Containers, metricsv1beta1.ContainerMetrics{Name: key.Container, Usage: resourceList(r.nanocores, c.Memory)})
	}
	var out []metricsv1beta1.PodMetrics
	for _, p := range pods {
		if !p.complete {
			continue
		}
		sort.Slice(p.metrics.Containers, func(i, j int) bool { return p.metrics.Containers[i].Name < p.metrics.Containers[j].Name })
		out = append(out, p.metrics)
	}
	return nodeMetrics, out
}

func resourceList(nanocores int64, memory uint64) corev1.ResourceList {
	return corev1.ResourceList{
		corev1.ResourceCPU:    *resource.NewScaledQuantity(nanocores, resource.Nano),
		corev1.ResourceMemory: *resource.NewQuantity(int64(memory), resource.BinarySI),
	}
}
