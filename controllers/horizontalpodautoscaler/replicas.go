package horizontalpodautoscaler

import (
	"errors"
	"fmt"
	"math"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/sets"

	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
	"github.com/kybern/kybern/controllers/internal/podutil"
)

// PodMetric is one pod's sample of a metric, in milli-units (millicores of CPU, thousandths
// of a byte of memory, thousandths of a custom metric's unit).
type PodMetric struct {
	// Timestamp is when the sample was taken; Window is the span a rate (CPU) was measured
	// over, ending at Timestamp.
	Timestamp time.Time
	Window    time.Duration
	Value     int64
}

// PodMetrics are samples by pod name.
type PodMetrics map[string]PodMetric

// tolerances are how far the usage ratio (usage / target) may fall below 1 (down) or rise
// above it (up) while the current replica count is kept: with 0.1 each way, a ratio in
// [0.9, 1.1] changes nothing.
type tolerances struct{ down, up float64 }

func (t tolerances) within(ratio float64) bool {
	return 1-t.down <= ratio && ratio <= 1+t.up
}

// calculator turns metric samples into replica counts, as upstream's ReplicaCalculator
// (pkg/controller/podautoscaler/replica_calculator.go) does, without its I/O: the caller
// lists the pods and reads the samples. Methods taking metrics may change that map.
type calculator struct {
	tolerances tolerances
	// cpuInitializationPeriod is how long after its start a pod's CPU sample is suspect;
	// initialReadinessDelay is how long after its start a readiness change is taken as
	// the pod's first.
	cpuInitializationPeriod, initialReadinessDelay time.Duration
	now                                            time.Time
}

var (
	errNoPods          = errors.New("no pods returned by selector while calculating replica count")
	errNoReadyMetrics  = errors.New("did not receive metrics for targeted pods (pods might be unready)")
	errNoMatchingPods  = errors.New("no metrics returned matched known pods")
	errNoStatusReplica = errors.New("the target's scale reports no replicas yet")
)

// podGroups sorts a target's pods by how their samples are used.
type podGroups struct {
	// ready counts the pods whose samples are used as they are.
	ready int
	// unready pods' samples are dropped, and on a scale up they count as using nothing.
	unready sets.Set[string]
	// missing pods have no sample; they count as using nothing on a scale up and their
	// target on a scale down, so that they damp the change either way.
	missing sets.Set[string]
	// ignored pods (being deleted, or failed) do not count at all.
	ignored sets.Set[string]
}

// groupPods sorts pods as upstream's groupPods does. Only CPU samples are checked for
// readiness, since only CPU spikes while a pod starts. Within cpuInitializationPeriod of its
// start a pod's sample is used only if the pod is ready and the sample's whole window
// follows its becoming ready; after that, only a pod that is unready and has never been
// ready (its readiness last changed within initialReadinessDelay of its start) is dropped.
func (c calculator) groupPods(pods []*corev1alpha1.Pod, metrics PodMetrics, resource corev1.ResourceName) podGroups {
	g := podGroups{unready: sets.New[string](), missing: sets.New[string](), ignored: sets.New[string]()}
	for _, p := range pods {
		if p.DeletionTimestamp != nil || p.Status.Phase == corev1.PodFailed {
			g.ignored.Insert(p.Name)
			continue
		}
		if p.Status.Phase == corev1.PodPending {
			g.unready.Insert(p.Name)
			continue
		}
		m, ok := metrics[p.Name]
		if !ok {
			g.missing.Insert(p.Name)
			continue
		}
		if resource == corev1.ResourceCPU && c.cpuSampleUnready(p, m) {
			g.unready.Insert(p.Name)
			continue
		}
		g.ready++
	}
	return g
}

func (c calculator) cpuSampleUnready(p *corev1alpha1.Pod, m PodMetric) bool {
	ready := podutil.ReadyCondition(p)
	if ready == nil || p.Status.StartTime == nil {
		return true
	}
	start := p.Status.StartTime.Time
	if start.Add(c.cpuInitializationPeriod).After(c.now) {
		return ready.Status == corev1.ConditionFalse || m.Timestamp.Before(ready.LastTransitionTime.Add(m.Window))
	}
	return ready.Status == corev1.ConditionFalse && start.Add(c.initialReadinessDelay).After(ready.LastTransitionTime.Time)
}

// usable drops the samples of ignored and unready pods from metrics.
func (g podGroups) usable(metrics PodMetrics) {
	for name := range g.ignored.Union(g.unready) {
		delete(metrics, name)
	}
}

// utilizationReplicas is the count that brings the pods' usage of resource to
// targetUtilization percent of their requests, with the current utilization (percent) and
// the average usage per pod (milli-units), from the usable samples. Example: 3 pods
// requesting 1 CPU use 300m, 500m and 700m; at a 30% target the utilization is 50%, the
// ratio 50/30, and ceil(3 × 1.67) = 5 replicas.
func (c calculator) utilizationReplicas(pods []*corev1alpha1.Pod, metrics PodMetrics, current, targetUtilization int32, resource corev1.ResourceName, container string) (replicas, utilization int32, average int64, err error) {
	if len(pods) == 0 {
		return 0, 0, 0, errNoPods
	}
	g := c.groupPods(pods, metrics, resource)
	g.usable(metrics)
	if len(metrics) == 0 {
		return 0, 0, 0, errNoReadyMetrics
	}
	requests, err := podRequests(pods, container, resource)
	if err != nil {
		return 0, 0, 0, err
	}
	ratio, utilization, average, err := utilizationRatio(metrics, requests, targetUtilization)
	if err != nil {
		return 0, 0, 0, err
	}
	// A missing pod is assumed to use its request on a scale down, or its target when
	// that is above 100%.
	atTarget := func(pod string) int64 { return requests[pod] * int64(max(100, targetUtilization)) / 100 }
	replicas, err = c.damped(current, ratio, g, metrics, atTarget, func(m PodMetrics) (float64, error) {
		r, _, _, err := utilizationRatio(m, requests, targetUtilization)
		return r, err
	})
	return replicas, utilization, average, err
}

// averageReplicas is the count that brings the pods' average sample to target
// (milli-units), with the current average, for AverageValue targets of Resource metrics
// (resource set: CPU samples are checked for readiness) and Pods metrics (resource "").
func (c calculator) averageReplicas(pods []*corev1alpha1.Pod, metrics PodMetrics, current int32, target int64, resource corev1.ResourceName) (replicas int32, average int64, err error) {
	if len(pods) == 0 {
		return 0, 0, errNoPods
	}
	g := c.groupPods(pods, metrics, resource)
	g.usable(metrics)
	if len(metrics) == 0 {
		return 0, 0, errNoReadyMetrics
	}
	ratio, average := usageRatio(metrics, target)
	replicas, err = c.damped(current, ratio, g, metrics, func(string) int64 { return target }, func(m PodMetrics) (float64, error) {
		r, _ := usageRatio(m, target)
		return r, nil
	})
	return replicas, average, err
}

// damped is the count for usage ratio ratio over g.ready pods, once the pods without a
// usable sample have had their say. Those pods are given an assumed sample (missing ones
// atTarget on a scale down and nothing on a scale up; unready ones nothing on a scale up)
// and the ratio is taken again over every pod with a sample: when it falls within the
// tolerance, or on the other side of 1, or its count moves the other way, the current
// count is kept. Example: 4 pods requesting 1 CPU at a 100% target, 2 of them with samples
// of 400m and 95m: utilization 495/2000 = 24% asks for a scale down; the 2 missing pods
// count at their request, (495+2000)/4000 = 62%, and ceil(0.62 × 4) = 3 replicas.
func (c calculator) damped(current int32, ratio float64, g podGroups, metrics PodMetrics, atTarget func(pod string) int64, ratioOf func(PodMetrics) (float64, error)) (int32, error) {
	upWithUnready := len(g.unready) > 0 && ratio > 1
	if !upWithUnready && len(g.missing) == 0 {
		if c.tolerances.within(ratio) {
			return current, nil
		}
		return ceilReplicas(ratio * float64(g.ready)), nil
	}
	for pod := range g.missing {
		switch {
		case ratio < 1:
			metrics[pod] = PodMetric{Value: atTarget(pod)}
		case ratio > 1:
			metrics[pod] = PodMetric{}
		}
	}
	if upWithUnready {
		for pod := range g.unready {
			metrics[pod] = PodMetric{}
		}
	}
	newRatio, err := ratioOf(metrics)
	if err != nil {
		return 0, err
	}
	if c.tolerances.within(newRatio) || (ratio < 1 && newRatio > 1) || (ratio > 1 && newRatio < 1) {
		return current, nil
	}
	replicas := ceilReplicas(newRatio * float64(len(metrics)))
	if (newRatio < 1 && replicas > current) || (newRatio > 1 && replicas < current) {
		return current, nil
	}
	return replicas, nil
}

// objectReplicas is the count for an Object metric's Value target, or an External metric's:
// the usage ratio applied to the ready pods.
func (c calculator) objectReplicas(pods []*corev1alpha1.Pod, current int32, usage, target int64) (int32, error) {
	ratio := float64(usage) / float64(target)
	if c.tolerances.within(ratio) {
		return current, nil
	}
	if len(pods) == 0 {
		return 0, fmt.Errorf("unable to calculate ready pods: %w", errNoPods)
	}
	ready := 0
	for _, p := range pods {
		if p.Status.Phase == corev1.PodRunning && podutil.IsReady(p) {
			ready++
		}
	}
	return ceilReplicas(ratio * float64(ready)), nil
}

// perPodReplicas is the count for an AverageValue target of an Object or External metric:
// the total usage divided by the target, unless the average over statusReplicas pods is
// within the tolerance; with the average per pod.
func (c calculator) perPodReplicas(statusReplicas int32, usage, target int64) (replicas int32, average int64, err error) {
	if statusReplicas == 0 {
		return 0, 0, errNoStatusReplica
	}
	replicas = statusReplicas
	if !c.tolerances.within(float64(usage) / (float64(target) * float64(statusReplicas))) {
		replicas = ceilReplicas(float64(usage) / float64(target))
	}
	if usage == math.MaxInt64 {
		return replicas, usage, nil
	}
	return replicas, int64(math.Ceil(float64(usage) / float64(statusReplicas))), nil
}

// utilizationRatio is the usage of the pods that have both a sample and a request, as a
// percentage of their requests, divided by target; with that percentage and the average
// usage per pod.
func utilizationRatio(metrics PodMetrics, requests map[string]int64, target int32) (ratio float64, utilization int32, average int64, err error) {
	var used, requested, n int64
	for pod, m := range metrics {
		req, ok := requests[pod]
		if !ok {
			continue
		}
		used += m.Value
		requested += req
		n++
	}
	if requested == 0 {
		return 0, 0, 0, errNoMatchingPods
	}
	utilization = int32(used * 100 / requested)
	return float64(utilization) / float64(target), utilization, used / n, nil
}

// usageRatio is the average sample divided by target, with the average.
func usageRatio(metrics PodMetrics, target int64) (float64, int64) {
	var total int64
	for _, m := range metrics {
		total += m.Value
	}
	average := total / int64(len(metrics))
	return float64(average) / float64(target), average
}

// saturatingSum adds values, stopping at math.MaxInt64.
func saturatingSum(values []int64) int64 {
	var sum int64
	for _, v := range values {
		if v > 0 && sum > math.MaxInt64-v {
			return math.MaxInt64
		}
		sum += v
	}
	return sum
}

// ceilReplicas rounds a replica count up, stopping at math.MaxInt32.
func ceilReplicas(f float64) int32 {
	if f >= math.MaxInt32 {
		return math.MaxInt32
	}
	return int32(math.Ceil(f))
}

// podRequests is each pod's request of resource in milli-units, by pod name (podRequest).
func podRequests(pods []*corev1alpha1.Pod, container string, resource corev1.ResourceName) (map[string]int64, error) {
	requests := make(map[string]int64, len(pods))
	for _, p := range pods {
		req, err := podRequest(p, container, resource)
		if err != nil {
			return nil, err
		}
		requests[p.Name] = req
	}
	return requests, nil
}

// podRequest is the pod's request of resource: that of the named container alone; else
// the pod-level request when the pod sets one (pod-level resources, on by default
// upstream); else the sum over its containers and restartable init containers (sidecars),
// each of which must request it.
func podRequest(p *corev1alpha1.Pod, container string, resource corev1.ResourceName) (int64, error) {
	if container == "" && p.Spec.Resources != nil {
		if q, ok := p.Spec.Resources.Requests[resource]; ok {
			return q.MilliValue(), nil
		}
	}
	containers := append([]corev1.Container{}, p.Spec.Containers...)
	for _, c := range p.Spec.InitContainers {
		if c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways {
			containers = append(containers, c)
		}
	}
	var sum int64
	for _, c := range containers {
		if container != "" && c.Name != container {
			continue
		}
		q, ok := c.Resources.Requests[resource]
		if !ok {
			return 0, fmt.Errorf("missing request for %s in container %s of Pod %s", resource, c.Name, p.Name)
		}
		if container != "" {
			return q.MilliValue(), nil
		}
		sum += q.MilliValue()
	}
	if container != "" {
		return 0, fmt.Errorf("container %s not found in Pod %s", container, p.Name)
	}
	return sum, nil
}
