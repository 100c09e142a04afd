package horizontalpodautoscaler

import (
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metricsv1beta1 "k8s.io/metrics/pkg/apis/metrics/v1beta1"

	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
	"github.com/kybern/kybern/controllers/internal/resourcemetrics"
)

// now is the tests' wall clock.
var now = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

// The tests' calculator settings, upstream's test settings: a 2-minute CPU initialization
// period, a 10s initial readiness delay, a 10% tolerance.
const (
	testCPUInitialization = 2 * time.Minute
	testReadinessDelay    = 10 * time.Second
	testTolerance         = 0.1
)

func testCalculator() calculator {
	return calculator{tolerances: tolerances{testTolerance, testTolerance}, cpuInitializationPeriod: testCPUInitialization, initialReadinessDelay: testReadinessDelay, now: now}
}

var (
	// hot pods started now: within the CPU initialization period, their samples are
	// suspect. cool ones started 3 minutes ago.
	hot  = now
	cool = now.Add(-3 * time.Minute)
)

// fleet describes a target's pods, each with two containers, container1 and container2.
// Slices indexed by pod may be shorter than the fleet: the missing entries take defaults.
type fleet struct {
	// pods is how many there are.
	pods int
	// requests is each pod's CPU request per container; a pod past its end requests none.
	requests []string
	// usage is each pod's CPU usage per container, in millicores; a pod past its end has
	// no sample, a container past its pod's end no usage.
	usage [][]int64
	// ready, started, phase and deleting default to True, 10 minutes ago, Running and no.
	ready    []corev1.ConditionStatus
	started  []time.Time
	phase    []corev1.PodPhase
	deleting []bool
}

func podName(i int) string { return fmt.Sprintf("web-%d", i) }

// each gives each of n pods the same per-container usage.
func each(usage ...int64) [][]int64 {
	out := make([][]int64, len(usage))
	for i, u := range usage {
		out[i] = []int64{u, u}
	}
	return out
}

// requestsOf gives n pods the same per-container request.
func requestsOf(n int, q string) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = q
	}
	return out
}

func (f fleet) build() []*corev1alpha1.Pod {
	pods := make([]*corev1alpha1.Pod, f.pods)
	for i := range pods {
		p := &corev1alpha1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: podName(i), Labels: map[string]string{"app": "web"}}}
		p.Spec.Containers = []corev1.Container{{Name: "container1"}, {Name: "container2"}}
		if i < len(f.requests) {
			for c := range p.Spec.Containers {
				p.Spec.Containers[c].Resources.Requests = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(f.requests[i])}
			}
		}
		ready, started, phase := corev1.ConditionTrue, now.Add(-10*time.Minute), corev1.PodRunning
		if i < len(f.ready) {
			ready = f.ready[i]
		}
		if i < len(f.started) {
			started = f.started[i]
		}
		if i < len(f.phase) {
			phase = f.phase[i]
		}
		p.Status = corev1.PodStatus{Phase: phase, StartTime: &metav1.Time{Time: started},
			Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: ready, LastTransitionTime: metav1.NewTime(started)}}}
		if i < len(f.deleting) && f.deleting[i] {
			p.DeletionTimestamp = &metav1.Time{Time: now}
		}
		pods[i] = p
	}
	return pods
}

// store is the metrics server's view of the fleet: samples a minute long, ending a
// minute ago. As upstream's fake, every sample lists both containers, the one without
// usage nameless.
func (f fleet) store() *resourcemetrics.Store {
	var samples []metricsv1beta1.PodMetrics
	for i, usage := range f.usage {
		m := metricsv1beta1.PodMetrics{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: podName(i)},
			Timestamp: metav1.NewTime(now.Add(-time.Minute)), Window: metav1.Duration{Duration: time.Minute},
			Containers: make([]metricsv1beta1.ContainerMetrics, 2)}
		for c, u := range usage {
			m.Containers[c] = metricsv1beta1.ContainerMetrics{Name: fmt.Sprintf("container%d", c+1),
				Usage: corev1.ResourceList{corev1.ResourceCPU: *resource.NewMilliQuantity(u, resource.DecimalSI)}}
		}
		samples = append(samples, m)
	}
	s := resourcemetrics.NewStore()
	s.SetNode("node-1", nil, samples)
	return s
}

// values is a Pods metric's samples, one per pod, by pod name.
func values(v ...int64) PodMetrics {
	out := PodMetrics{}
	for i, x := range v {
		out[podName(i)] = PodMetric{Timestamp: now.Add(-time.Minute), Window: time.Minute, Value: x}
	}
	return out
}
