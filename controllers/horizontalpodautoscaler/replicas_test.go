package horizontalpodautoscaler

import (
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
)

const (
	podRunning = corev1.PodRunning
	podFailed  = corev1.PodFailed
	podPending = corev1.PodPending
	yes        = corev1.ConditionTrue
	no         = corev1.ConditionFalse
)

// utilizationCase is a CPU utilization target over a fleet: the count, utilization and
// average usage per pod expected, or an error containing wantErr. The cases are upstream's
// (replica_calculator_test.go), in milli-CPU; with two containers per pod, a pod's usage
// and request are twice its containers'.
type utilizationCase struct {
	name        string
	fleet       fleet
	current     int32
	container   string
	target      int32
	tolerances  *tolerances
	replicas    int32
	utilization int32
	average     int64
	wantErr     string
}

func (tc utilizationCase) run(t *testing.T) {
	t.Helper()
	c := testCalculator()
	if tc.tolerances != nil {
		c.tolerances = *tc.tolerances
	}
	pods := tc.fleet.build()
	replicas, utilization, average, err := func() (int32, int32, int64, error) {
		usage, err := resourceUsage(tc.fleet.store(), pods, corev1.ResourceCPU, tc.container)
		if err != nil {
			return 0, 0, 0, err
		}
		return c.utilizationReplicas(pods, usage, tc.current, tc.target, corev1.ResourceCPU, tc.container)
	}()
	if tc.wantErr != "" {
		if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
			t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
		}
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	if replicas != tc.replicas || utilization != tc.utilization || average != tc.average {
		t.Errorf("got %d replicas at %d%% averaging %dm, want %d at %d%% averaging %dm", replicas, utilization, average, tc.replicas, tc.utilization, tc.average)
	}
}

func TestUtilizationScale(t *testing.T) {
	one := func(n int) []string { return requestsOf(n, "1") }
	for _, tc := range []utilizationCase{
		{name: "3 pods at 30%,50%,70% of a 30% target → 5", current: 3, target: 30,
			fleet: fleet{pods: 3, requests: one(3), usage: each(300, 500, 700)}, replicas: 5, utilization: 50, average: 1000},
		{name: "container2 at 30%,50%,70% of a 30% target → 5", current: 3, target: 30, container: "container2",
			fleet: fleet{pods: 3, requests: one(3), usage: [][]int64{{1000, 300}, {1000, 500}, {1000, 700}}}, replicas: 5, utilization: 50, average: 500},
		{name: "an unready pod is left out of a scale up → 4", current: 3, target: 30,
			fleet: fleet{pods: 3, requests: one(3), usage: each(300, 500, 700), ready: []corev1.ConditionStatus{no, yes, yes}}, replicas: 4, utilization: 60, average: 1200},
		{name: "a hot container's sample is left out of a scale up → 4", current: 3, target: 30, container: "container2",
			fleet: fleet{pods: 3, requests: one(3), usage: [][]int64{{0, 300}, {0, 500}, {0, 700}}, started: []time.Time{hot, cool, cool}}, replicas: 4, utilization: 60, average: 600},
		{name: "a hot pod's sample is left out of a scale up → 4", current: 3, target: 30,
			fleet: fleet{pods: 3, requests: one(3), usage: each(300, 500, 700), started: []time.Time{hot, cool, cool}}, replicas: 4, utilization: 60, average: 1200},
		{name: "two unready pods would scale up alone: kept at 3", current: 3, target: 30,
			fleet: fleet{pods: 3, requests: one(3), usage: each(400, 500, 700), ready: []corev1.ConditionStatus{yes, no, no}}, replicas: 3, utilization: 40, average: 800},
		{name: "two hot unready pods would scale up alone: kept at 3", current: 3, target: 30,
			fleet: fleet{pods: 3, requests: one(3), usage: each(400, 500, 700), ready: []corev1.ConditionStatus{yes, no, no}, started: []time.Time{cool, hot, hot}}, replicas: 3, utilization: 40, average: 800},
		{name: "failed pods are ignored on a scale up → 4", current: 2, target: 30,
			fleet:    fleet{pods: 4, requests: one(4), usage: each(500, 700), ready: []corev1.ConditionStatus{yes, yes, no, no}, phase: []corev1.PodPhase{podRunning, podRunning, podFailed, podFailed}},
			replicas: 4, utilization: 60, average: 1200},
		{name: "failed pods lacking the container's sample are ignored → 4", current: 2, target: 30, container: "container2",
			fleet:    fleet{pods: 4, requests: one(4), usage: [][]int64{{1000, 500}, {9000, 700}, {1000}, {9000}}, ready: []corev1.ConditionStatus{yes, yes, no, no}, phase: []corev1.PodPhase{podRunning, podRunning, podFailed, podFailed}},
			replicas: 4, utilization: 60, average: 600},
		{name: "pods being deleted are ignored on a scale up → 4", current: 2, target: 30,
			fleet:    fleet{pods: 4, requests: one(4), usage: each(500, 700), ready: []corev1.ConditionStatus{yes, yes, no, no}, deleting: []bool{false, false, true, true}},
			replicas: 4, utilization: 60, average: 1200},
		{name: "5 pods averaging 28% of a 50% target → 3", current: 5, target: 50,
			fleet: fleet{pods: 5, requests: one(5), usage: each(100, 300, 500, 250, 250)}, replicas: 3, utilization: 28, average: 560},
		{name: "container2 averaging 28% of a 50% target → 3", current: 5, target: 50, container: "container2",
			fleet: fleet{pods: 5, requests: one(5), usage: [][]int64{{1000, 100}, {1000, 300}, {1000, 500}, {1000, 250}, {1000, 250}}}, replicas: 3, utilization: 28, average: 280},
		{name: "unready pods are left out of a scale down → 2", current: 5, target: 50,
			fleet: fleet{pods: 5, requests: one(5), usage: each(100, 300, 500, 250, 250), ready: []corev1.ConditionStatus{yes, yes, yes, no, no}}, replicas: 2, utilization: 30, average: 600},
		{name: "pending pods are left out of a scale down → 1", current: 5, target: 50,
			fleet:    fleet{pods: 5, requests: one(5), usage: each(100), ready: []corev1.ConditionStatus{yes, no, no, no, no}, phase: []corev1.PodPhase{podRunning, podPending, podPending, podPending, podPending}},
			replicas: 1, utilization: 10, average: 200},
		{name: "pending pods' container samples are left out of a scale down → 1", current: 5, target: 50, container: "container2",
			fleet:    fleet{pods: 5, requests: one(5), usage: [][]int64{{1000, 100}, {1000, 300}, {1000, 500}, {1000, 250}, {1000, 250}}, ready: []corev1.ConditionStatus{yes, no, no, no, no}, phase: []corev1.PodPhase{podRunning, podPending, podPending, podPending, podPending}},
			replicas: 1, utilization: 10, average: 100},
		{name: "hot pods are left out of a scale down → 2", current: 5, target: 50,
			fleet: fleet{pods: 5, requests: one(5), usage: each(100, 300, 500, 250, 250), started: []time.Time{cool, cool, cool, hot, hot}}, replicas: 2, utilization: 30, average: 600},
		{name: "hot pods' busy containers are left out of a scale down → 2", current: 5, target: 50, container: "container2",
			fleet: fleet{pods: 5, requests: one(5), usage: [][]int64{{1000, 100}, {1000, 300}, {1000, 500}, {1000, 1000}, {1000, 1000}}, started: []time.Time{cool, cool, cool, hot, hot}}, replicas: 2, utilization: 30, average: 300},
		{name: "failed pods are ignored on a scale down → 3", current: 5, target: 50,
			fleet:    fleet{pods: 7, requests: one(7), usage: each(100, 300, 500, 250, 250), ready: []corev1.ConditionStatus{yes, yes, yes, yes, yes, no, no}, phase: []corev1.PodPhase{podRunning, podRunning, podRunning, podRunning, podRunning, podFailed, podFailed}},
			replicas: 3, utilization: 28, average: 560},
		{name: "running pods being deleted are ignored on a scale down → 3", current: 5, target: 50, container: "container2",
			fleet:    fleet{pods: 7, requests: one(7), usage: [][]int64{{1000, 100}, {1000, 300}, {1000, 500}, {1000, 250}, {1000, 250}}, ready: []corev1.ConditionStatus{yes, yes, yes, yes, yes, no, no}, deleting: []bool{false, false, false, false, false, true, true}},
			replicas: 3, utilization: 28, average: 280},
	} {
		t.Run(tc.name, tc.run)
	}
}

func TestUtilizationTolerance(t *testing.T) {
	mixed := []string{"0.9", "1.0", "1.1"}
	for _, tc := range []utilizationCase{
		{name: "102% of a 100% target is within 10%", current: 3, target: 100,
			fleet: fleet{pods: 3, requests: mixed, usage: each(1010, 1030, 1020)}, replicas: 3, utilization: 102, average: 2040},
		{name: "101% is outside a 0% tolerance → 4", current: 3, target: 100, tolerances: &tolerances{0, 0},
			fleet: fleet{pods: 3, requests: mixed, usage: each(909, 1010, 1111)}, replicas: 4, utilization: 101, average: 2020},
		{name: "190% is within a 200% scale-up tolerance", current: 3, target: 100, tolerances: &tolerances{testTolerance, 2},
			fleet: fleet{pods: 3, requests: mixed, usage: each(1890, 1910, 1900)}, replicas: 3, utilization: 190, average: 3800},
		{name: "109% is outside an 8% scale-up tolerance, whatever the scale-down one → 4", current: 3, target: 100, tolerances: &tolerances{2, 0.08},
			fleet: fleet{pods: 3, requests: mixed, usage: each(1100, 1080, 1090)}, replicas: 4, utilization: 109, average: 2180},
		{name: "65% is within a 36% scale-down tolerance", current: 3, target: 100, tolerances: &tolerances{0.36, testTolerance},
			fleet: fleet{pods: 3, requests: mixed, usage: each(660, 640, 650)}, replicas: 3, utilization: 65, average: 1300},
		{name: "65% is outside a 34% scale-down tolerance → 2", current: 3, target: 100, tolerances: &tolerances{0.34, testTolerance},
			fleet: fleet{pods: 3, requests: mixed, usage: each(660, 640, 650)}, replicas: 2, utilization: 65, average: 1300},
	} {
		t.Run(tc.name, tc.run)
	}
}

func TestUtilizationMissingSamples(t *testing.T) {
	one := func(n int) []string { return requestsOf(n, "1") }
	for _, tc := range []utilizationCase{
		{name: "samples of pods the selector does not match are not read", current: 4, target: 100,
			fleet: fleet{pods: 4, requests: one(4), usage: each(4000, 9500, 3000, 7000, 3200, 2000)}, replicas: 24, utilization: 587, average: 11750},
		{name: "2 of 4 pods without samples count at their request on a scale down → 3", current: 4, target: 100,
			fleet: fleet{pods: 4, requests: one(4), usage: each(400, 95)}, replicas: 3, utilization: 24, average: 495},
		{name: "at the target with a pod missing: kept", current: 2, target: 100,
			fleet: fleet{pods: 2, requests: one(2), usage: each(1000)}, replicas: 2, utilization: 100, average: 2000},
		{name: "above the target with a pod missing counting as idle: kept", current: 2, target: 100,
			fleet: fleet{pods: 2, requests: one(2), usage: each(1900)}, replicas: 2, utilization: 190, average: 3800},
		{name: "below the target with a pod missing counting at its request: kept", current: 2, target: 100,
			fleet: fleet{pods: 2, requests: one(2), usage: each(600)}, replicas: 2, utilization: 60, average: 1200},
		{name: "an unready pod with a sample and a missing one: kept", current: 3, target: 50,
			fleet: fleet{pods: 3, requests: one(3), usage: each(100, 450), ready: []corev1.ConditionStatus{no, yes, yes}}, replicas: 3, utilization: 45, average: 900},
		{name: "a hot pod with a sample and a missing one: kept", current: 3, target: 50,
			fleet: fleet{pods: 3, requests: one(3), usage: each(100, 450), started: []time.Time{hot, cool, cool}}, replicas: 3, utilization: 45, average: 900},
		{name: "an unready pod and a missing one, one pod at 200% → 4", current: 3, target: 50,
			fleet: fleet{pods: 3, requests: one(3), usage: each(100, 2000), ready: []corev1.ConditionStatus{no, yes, yes}}, replicas: 4, utilization: 200, average: 4000},
		{name: "a hot unready pod and a missing one, one pod at 200% → 4", current: 3, target: 50,
			fleet: fleet{pods: 3, requests: one(3), usage: each(100, 2000), ready: []corev1.ConditionStatus{no, yes, yes}, started: []time.Time{hot, cool, cool}}, replicas: 4, utilization: 200, average: 4000},
		{name: "an unready pod and a missing one on a scale down → 3", current: 4, target: 50,
			fleet: fleet{pods: 4, requests: one(4), usage: each(100, 100, 100), ready: []corev1.ConditionStatus{no, yes, yes, yes}}, replicas: 3, utilization: 10, average: 200},
		{name: "a missing pod counts at a target over 100% → 2", current: 4, target: 300,
			fleet: fleet{pods: 4, requests: []string{"1", "1", "2", "2"}, usage: each(200, 100, 100), ready: []corev1.ConditionStatus{no, yes, yes, yes}}, replicas: 2, utilization: 6, average: 200},
		{name: "a surge pod without a sample during a rollout: kept", current: 2, target: 50,
			fleet: fleet{pods: 3, requests: one(3), usage: each(100, 100)}, replicas: 2, utilization: 10, average: 200},
		{name: "no pod has a sample", current: 4, target: 100,
			fleet: fleet{pods: 3, requests: one(3)}, wantErr: "no metrics returned from resource metrics API"},
		{name: "a container without a CPU request", current: 1, target: 100,
			fleet: fleet{pods: 1, usage: each(200)}, wantErr: "missing request for cpu in container container1 of Pod web-0"},
		{name: "no pods", current: 1, target: 100, fleet: fleet{usage: each(200)}, wantErr: "no metrics returned from resource metrics API"},
	} {
		t.Run(tc.name, tc.run)
	}
}

// TestUtilizationJustOutsideTolerance follows upstream's computed-tolerance case: 10 pods
// each using 150m of about 300m requested (50%), against a target set just past where the
// ratio leaves the 10% tolerance, scale down; just inside it, they stay.
func TestUtilizationJustOutsideTolerance(t *testing.T) {
	const pods, used, requested = 10, 150, 300
	requests := make([]string, pods)
	for i, jitter := range []int{100, -100, 10, -10, 2, -2, 1, -1, 0, 0} {
		requests[i] = fmt.Sprintf("%dm", requested+jitter)
	}
	f := fleet{pods: pods, requests: requests, usage: each(used, used, used, used, used, used, used, used, used, used)}
	// A target t leaves the tolerance when 0.5/t < 0.9, t > 0.556.
	for _, tc := range []struct {
		target   float64
		replicas int32
	}{{target: 1/(2*(1-testTolerance)) + 0.01, replicas: 9}, {target: 1/(2*(1-testTolerance)) + 0.004, replicas: 10}} {
		utilizationCase{name: fmt.Sprint(tc.target), fleet: f, current: pods, target: int32(tc.target * 100),
			replicas: tc.replicas, utilization: 50, average: 2 * used}.run(t)
	}
}
