package horizontalpodautoscaler

import (
	"math"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/utils/ptr"

	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
)

// The cases below are upstream's (replica_calculator_test.go), values in milli-units.

func TestPodsMetricAverage(t *testing.T) {
	for _, tc := range []struct {
		name       string
		fleet      fleet
		samples    PodMetrics
		current    int32
		target     int64
		tolerances *tolerances
		replicas   int32
		average    int64
	}{
		{name: "average 20 of a 15 target → 4", fleet: fleet{pods: 3}, samples: values(20000, 10000, 30000), current: 3, target: 15000, replicas: 4, average: 20000},
		{name: "readiness does not matter to a Pods metric → 6", current: 3, target: 15000,
			fleet:   fleet{pods: 3, ready: []corev1.ConditionStatus{yes, yes, no}, started: []time.Time{cool, cool, hot}},
			samples: values(50000, 10000, 30000), replicas: 6, average: 30000},
		{name: "nor does a pod's start → 7", current: 3, target: 15000,
			fleet:   fleet{pods: 3, ready: []corev1.ConditionStatus{no, yes, no}, started: []time.Time{hot, cool, hot}},
			samples: values(50000, 15000, 30000), replicas: 7, average: 31666},
		{name: "average 12 of a 20 target → 3", fleet: fleet{pods: 5}, samples: values(12000, 12000, 12000, 12000, 12000), current: 5, target: 20000, replicas: 3, average: 12000},
		{name: "3% above the target is within 10%", fleet: fleet{pods: 3}, samples: values(20000, 21000, 21000), current: 3, target: 20000, replicas: 3, average: 20666},
		{name: "3% above the target is outside 1% → 4", fleet: fleet{pods: 3}, samples: values(20000, 21000, 21000), current: 3, target: 20000,
			tolerances: &tolerances{testTolerance, 0.01}, replicas: 4, average: 20666},
		{name: "2 pods without samples at the target: kept", fleet: fleet{pods: 5}, samples: values(20000, 19000, 21000), current: 5, target: 20000, replicas: 5, average: 20000},
		{name: "a surge pod without a sample: kept", fleet: fleet{pods: 3}, samples: values(10000, 10000), current: 2, target: 17000, replicas: 2, average: 10000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := testCalculator()
			if tc.tolerances != nil {
				c.tolerances = *tc.tolerances
			}
			replicas, average, err := c.averageReplicas(tc.fleet.build(), tc.samples, tc.current, tc.target, "")
			if err != nil {
				t.Fatal(err)
			}
			if replicas != tc.replicas || average != tc.average {
				t.Errorf("got %d replicas averaging %d, want %d averaging %d", replicas, average, tc.replicas, tc.average)
			}
		})
	}
}

func TestObjectValue(t *testing.T) {
	for _, tc := range []struct {
		name          string
		fleet         fleet
		current       int32
		usage, target int64
		tolerances    *tolerances
		replicas      int32
	}{
		{name: "20 of a 15 target over 3 ready pods → 4", fleet: fleet{pods: 3}, current: 3, usage: 20000, target: 15000, replicas: 4},
		{name: "a huge usage saturates the count", fleet: fleet{pods: 3}, current: 3, usage: math.MaxInt64, target: 1, replicas: math.MaxInt32},
		{name: "only the ready pod counts → 5", fleet: fleet{pods: 3, ready: []corev1.ConditionStatus{no, yes, no}}, current: 3, usage: 50000, target: 10000, replicas: 5},
		{name: "12 of a 20 target over 5 pods → 3", fleet: fleet{pods: 5}, current: 5, usage: 12000, target: 20000, replicas: 3},
		{name: "3% above is within 10%", fleet: fleet{pods: 3}, current: 3, usage: 20666, target: 20000, replicas: 3},
		{name: "3% above is outside 1% → 4", fleet: fleet{pods: 3}, current: 3, usage: 20666, target: 20000, tolerances: &tolerances{testTolerance, 0.01}, replicas: 4},
		// External metrics with a Value target are evaluated the same way, on their sum.
		{name: "external: 8.6 of 4.4 over the one ready pod → 2, a scale down", fleet: fleet{pods: 3, ready: []corev1.ConditionStatus{no, yes, no}}, current: 3, usage: 8600, target: 4400, replicas: 2},
		{name: "external: 8.6 of 14.334 over 5 pods → 3", fleet: fleet{pods: 5}, current: 5, usage: 8600, target: 14334, replicas: 3},
		{name: "external: 3% below is within 10%", fleet: fleet{pods: 3}, current: 3, usage: 8600, target: 8888, replicas: 3},
		{name: "external: 1.1% above is outside 1% → 4", fleet: fleet{pods: 3}, current: 3, usage: 8900, target: 8800, tolerances: &tolerances{testTolerance, 0.01}, replicas: 4},
		{name: "external: an overflowing sum stops at the largest value", fleet: fleet{pods: 3}, current: 3,
			usage: saturatingSum([]int64{math.MaxInt64/2 + 1, math.MaxInt64/2 + 1}), target: math.MaxInt64, replicas: 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := testCalculator()
			if tc.tolerances != nil {
				c.tolerances = *tc.tolerances
			}
			replicas, err := c.objectReplicas(tc.fleet.build(), tc.current, tc.usage, tc.target)
			if err != nil {
				t.Fatal(err)
			}
			if replicas != tc.replicas {
				t.Errorf("got %d replicas, want %d", replicas, tc.replicas)
			}
		})
	}
	if _, err := testCalculator().objectReplicas(nil, 3, 20000, 10000); err == nil {
		t.Error("no pods: want an error")
	}
}

func TestPerPodAverage(t *testing.T) {
	for _, tc := range []struct {
		name           string
		statusReplicas int32
		usage, target  int64
		tolerances     *tolerances
		replicas       int32
		average        int64
	}{
		{name: "object: 20 over 3 pods at 5 each → 4", statusReplicas: 3, usage: 20000, target: 5000, replicas: 4, average: 6667},
		{name: "object: 6 over 5 pods at 2 each → 3", statusReplicas: 5, usage: 6000, target: 2000, replicas: 3, average: 1200},
		{name: "object: 0.8% above is within 10%", statusReplicas: 4, usage: 20166, target: 5000, replicas: 4, average: 5042},
		{name: "object: 1.04% above is outside 1% → 5", statusReplicas: 4, usage: 20208, target: 5000, tolerances: &tolerances{testTolerance, 0.01}, replicas: 5, average: 5052},
		{name: "external: the count saturates", statusReplicas: 1, usage: math.MaxInt64, target: 1, replicas: math.MaxInt32, average: math.MaxInt64},
		{name: "external: a huge usage at a huge target: kept", statusReplicas: 1, usage: math.MaxInt64, target: math.MaxInt64, replicas: 1, average: math.MaxInt64},
		{name: "external: 8.6 over 3 pods at 2.15 → 4", statusReplicas: 3, usage: 8600, target: 2150, replicas: 4, average: 2867},
		{name: "external: 8.6 over 5 pods at 2.867 → 3", statusReplicas: 5, usage: 8600, target: 2867, replicas: 3, average: 1720},
		{name: "external: 1% below is within 10%", statusReplicas: 3, usage: 8600, target: 2900, replicas: 3, average: 2867},
		{name: "external: 2.4% above is outside 1% → 4", statusReplicas: 3, usage: 8600, target: 2800, tolerances: &tolerances{testTolerance, 0.01}, replicas: 4, average: 2867},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := testCalculator()
			if tc.tolerances != nil {
				c.tolerances = *tc.tolerances
			}
			replicas, average, err := c.perPodReplicas(tc.statusReplicas, tc.usage, tc.target)
			if err != nil {
				t.Fatal(err)
			}
			if replicas != tc.replicas || average != tc.average {
				t.Errorf("got %d replicas averaging %d, want %d averaging %d", replicas, average, tc.replicas, tc.average)
			}
		})
	}
	if _, _, err := testCalculator().perPodReplicas(0, 1000, 100); err == nil {
		t.Error("a scale with no replicas in its status: want an error")
	}
}

func TestGroupPods(t *testing.T) {
	pod := func(name string, phase corev1.PodPhase, started *time.Time, ready *corev1.PodCondition) *corev1alpha1.Pod {
		p := &corev1alpha1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name}, Status: corev1.PodStatus{Phase: phase}}
		if started != nil {
			p.Status.StartTime = &metav1.Time{Time: *started}
		}
		if ready != nil {
			p.Status.Conditions = []corev1.PodCondition{*ready}
		}
		return p
	}
	at := func(d time.Duration) *time.Time { return ptr.To(now.Add(d)) }
	readyAt := func(s corev1.ConditionStatus, d time.Duration) *corev1.PodCondition {
		return &corev1.PodCondition{Type: corev1.PodReady, Status: s, LastTransitionTime: metav1.NewTime(now.Add(d))}
	}
	sample := func(age, window time.Duration) PodMetric {
		return PodMetric{Value: 1, Timestamp: now.Add(-age), Window: window}
	}
	deleted := pod("deleted", podPending, nil, nil)
	deleted.DeletionTimestamp = &metav1.Time{Time: now}
	type groups struct {
		ready                     int
		unready, missing, ignored []string
	}
	for _, tc := range []struct {
		name     string
		pods     []*corev1alpha1.Pod
		samples  PodMetrics
		resource corev1.ResourceName
		want     groups
	}{
		{name: "none", resource: corev1.ResourceCPU},
		{name: "memory samples are not checked for readiness", resource: corev1.ResourceMemory,
			pods: []*corev1alpha1.Pod{pod("a", corev1.PodSucceeded, nil, nil)}, samples: PodMetrics{"a": sample(0, time.Minute)}, want: groups{ready: 1}},
		{name: "a CPU sample of a pod without a Ready condition is unready", resource: corev1.ResourceCPU,
			pods: []*corev1alpha1.Pod{pod("a", corev1.PodSucceeded, at(0), nil)}, samples: PodMetrics{"a": {Value: 1}}, want: groups{unready: []string{"a"}}},
		{name: "starting, ready, and the sample's window follows readiness: ready", resource: corev1.ResourceCPU,
			pods:    []*corev1alpha1.Pod{pod("a", corev1.PodSucceeded, at(-time.Minute), readyAt(yes, -30*time.Second))},
			samples: PodMetrics{"a": sample(0, 30*time.Second)}, want: groups{ready: 1}},
		{name: "starting, ready, but the sample's window began before readiness: unready", resource: corev1.ResourceCPU,
			pods:    []*corev1alpha1.Pod{pod("a", corev1.PodSucceeded, at(-time.Minute), readyAt(yes, -30*time.Second))},
			samples: PodMetrics{"a": sample(0, time.Minute)}, want: groups{unready: []string{"a"}}},
		{name: "unready since its start: unready", resource: corev1.ResourceCPU,
			pods:    []*corev1alpha1.Pod{pod("a", corev1.PodSucceeded, at(-10*time.Minute), readyAt(no, -9*time.Minute-54*time.Second))},
			samples: PodMetrics{"a": {Value: 1}}, want: groups{unready: []string{"a"}}},
		{name: "started long ago, ready, with an old sample: ready", resource: corev1.ResourceCPU,
			pods:    []*corev1alpha1.Pod{pod("a", corev1.PodSucceeded, at(-3*time.Minute), readyAt(yes, -3*time.Minute))},
			samples: PodMetrics{"a": sample(2*time.Minute, time.Minute)}, want: groups{ready: 1}},
		{name: "unready after having been ready: ready", resource: corev1.ResourceCPU,
			pods:    []*corev1alpha1.Pod{pod("a", corev1.PodSucceeded, at(-10*time.Minute), readyAt(no, -9*time.Minute))},
			samples: PodMetrics{"a": {Value: 1}}, want: groups{ready: 1}},
		{name: "unready 10s after its start, past the initial delay: ready", resource: corev1.ResourceCPU,
			pods:    []*corev1alpha1.Pod{pod("a", corev1.PodSucceeded, at(-10*time.Minute), readyAt(no, -9*time.Minute-50*time.Second))},
			samples: PodMetrics{"a": {Value: 1}}, want: groups{ready: 1}},
		{name: "no sample: missing", resource: corev1.ResourceCPU,
			pods: []*corev1alpha1.Pod{pod("a", corev1.PodSucceeded, at(-3*time.Minute), nil)}, want: groups{missing: []string{"a"}}},
		{name: "several", resource: corev1.ResourceCPU,
			pods: []*corev1alpha1.Pod{pod("a", corev1.PodSucceeded, at(0), nil), pod("b", corev1.PodSucceeded, at(-3*time.Minute), readyAt(yes, -3*time.Minute)),
				pod("c", corev1.PodSucceeded, at(-3*time.Minute), nil)},
			samples: PodMetrics{"a": {Value: 1}, "b": {Value: 1}}, want: groups{ready: 1, unready: []string{"a"}, missing: []string{"c"}}},
		{name: "pending: unready", resource: corev1.ResourceCPU, pods: []*corev1alpha1.Pod{pod("a", podPending, nil, nil)}, want: groups{unready: []string{"a"}}},
		{name: "being deleted: ignored", resource: corev1.ResourceCPU, pods: []*corev1alpha1.Pod{deleted}, samples: PodMetrics{"deleted": {Value: 1}}, want: groups{ignored: []string{"deleted"}}},
		{name: "failed: ignored", resource: corev1.ResourceCPU, pods: []*corev1alpha1.Pod{pod("a", podFailed, nil, nil)}, samples: PodMetrics{"a": {Value: 1}}, want: groups{ignored: []string{"a"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := testCalculator().groupPods(tc.pods, tc.samples, tc.resource)
			got := groups{ready: g.ready, unready: sets.List(g.unready), missing: sets.List(g.missing), ignored: sets.List(g.ignored)}
			if diff := cmp.Diff(tc.want, got, cmp.AllowUnexported(groups{}), cmpopts.EquateEmpty()); diff != "" {
				t.Error(diff)
			}
		})
	}
}

func TestPodRequest(t *testing.T) {
	req := func(m int64) corev1.ResourceRequirements {
		return corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: *resource.NewMilliQuantity(m, resource.DecimalSI)}}
	}
	two := []corev1.Container{{Name: "c1", Resources: req(100)}, {Name: "c2", Resources: req(50)}}
	for _, tc := range []struct {
		name      string
		spec      corev1.PodSpec
		container string
		want      int64
		wantErr   string
	}{
		{name: "containers are summed", spec: corev1.PodSpec{Containers: two}, want: 150},
		{name: "a pod-level request wins", spec: corev1.PodSpec{Resources: ptr.To(req(800)), Containers: two}, want: 800},
		{name: "a pod-level request covers a container without one",
			spec: corev1.PodSpec{Resources: ptr.To(req(800)), Containers: []corev1.Container{{Name: "c1"}, {Name: "c2", Resources: req(50)}}}, want: 800},
		{name: "a container without a request", spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c1"}, {Name: "c2", Resources: req(50)}}},
			wantErr: "missing request for cpu in container c1 of Pod p"},
		{name: "a named container alone", spec: corev1.PodSpec{Containers: two}, container: "c1", want: 100},
		{name: "a named container, whatever the pod-level request", spec: corev1.PodSpec{Resources: ptr.To(req(800)), Containers: two}, container: "c1", want: 100},
		{name: "restartable init containers count, others do not",
			spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c1", Resources: req(100)}}, InitContainers: []corev1.Container{
				{Name: "init", Resources: req(20)}, {Name: "sidecar", Resources: req(50), RestartPolicy: ptr.To(corev1.ContainerRestartPolicyAlways)}}}, want: 150},
		{name: "a named container that does not exist", spec: corev1.PodSpec{Containers: two}, container: "nope", wantErr: "container nope not found in Pod p"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := &corev1alpha1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p"}, Spec: tc.spec}
			got, err := podRequest(p, tc.container, corev1.ResourceCPU)
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Fatalf("error %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Errorf("got %d, %v; want %d", got, err, tc.want)
			}
		})
	}
}
