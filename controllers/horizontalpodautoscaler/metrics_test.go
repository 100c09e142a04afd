package horizontalpodautoscaler

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/tools/record"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"

	autoscalingv1alpha1 "github.com/kybern/kybern/api/autoscaling/v1alpha1"
	"github.com/kybern/kybern/controllers/internal/setup"
)

// fakeAPIs serves what it is given; a nil field's API is not served.
type fakeAPIs struct {
	pods     PodMetrics
	object   *int64
	external []int64
}

func (f fakeAPIs) PodsMetric(_, _ string, _, _ labels.Selector) (PodMetrics, error) {
	if f.pods == nil {
		return nil, notServedError(customMetricsGroup)
	}
	return f.pods, nil
}

func (f fakeAPIs) ObjectMetric(_, _ string, _ autoscalingv2.CrossVersionObjectReference, _ labels.Selector) (int64, error) {
	if f.object == nil {
		return 0, notServedError(customMetricsGroup)
	}
	return *f.object, nil
}

func (f fakeAPIs) ExternalMetric(_, _ string, _ labels.Selector) ([]int64, error) {
	if f.external == nil {
		return nil, notServedError(externalMetricsGroup)
	}
	return f.external, nil
}

var (
	cpuAt = func(percent int32) autoscalingv2.MetricSpec {
		return autoscalingv2.MetricSpec{Type: autoscalingv2.ResourceMetricSourceType, Resource: &autoscalingv2.ResourceMetricSource{
			Name: corev1.ResourceCPU, Target: autoscalingv2.MetricTarget{Type: autoscalingv2.UtilizationMetricType, AverageUtilization: ptr.To(percent)}}}
	}
	qpsPerPod = autoscalingv2.MetricSpec{Type: autoscalingv2.PodsMetricSourceType, Pods: &autoscalingv2.PodsMetricSource{
		Metric: autoscalingv2.MetricIdentifier{Name: "qps"}, Target: autoscalingv2.MetricTarget{Type: autoscalingv2.AverageValueMetricType, AverageValue: ptr.To(resource.MustParse("10"))}}}
	queueLength = autoscalingv2.MetricSpec{Type: autoscalingv2.ObjectMetricSourceType, Object: &autoscalingv2.ObjectMetricSource{
		DescribedObject: autoscalingv2.CrossVersionObjectReference{APIVersion: "v1", Kind: "Service", Name: "queue"},
		Metric:          autoscalingv2.MetricIdentifier{Name: "length"}, Target: autoscalingv2.MetricTarget{Type: autoscalingv2.ValueMetricType, Value: ptr.To(resource.MustParse("100"))}}}
	backlogPerPod = autoscalingv2.MetricSpec{Type: autoscalingv2.ExternalMetricSourceType, External: &autoscalingv2.ExternalMetricSource{
		Metric: autoscalingv2.MetricIdentifier{Name: "backlog", Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"queue": "jobs"}}},
		Target: autoscalingv2.MetricTarget{Type: autoscalingv2.AverageValueMetricType, AverageValue: ptr.To(resource.MustParse("5"))}}}
)

func TestPropose(t *testing.T) {
	// 3 pods requesting 2 CPU in all, using 1 each: 50%.
	f := fleet{pods: 3, requests: requestsOf(3, "1"), usage: each(500, 500, 500)}
	for _, tc := range []struct {
		name     string
		metrics  []autoscalingv2.MetricSpec
		apis     fakeAPIs
		replicas int32
		metric   string
		usable   bool
		types    []autoscalingv2.MetricSourceType
		events   []string
		wantErr  string
	}{
		{name: "no metrics: 80% of CPU", replicas: 2, metric: "cpu resource utilization (percentage of request)", usable: true,
			types: []autoscalingv2.MetricSourceType{autoscalingv2.ResourceMetricSourceType}},
		{name: "the highest count wins", metrics: []autoscalingv2.MetricSpec{cpuAt(25), qpsPerPod, queueLength, backlogPerPod},
			apis: fakeAPIs{pods: values(10000, 10000, 10000), object: ptr.To[int64](450000), external: []int64{20000, 20000}}, replicas: 14, metric: "Service metric length", usable: true,
			types: []autoscalingv2.MetricSourceType{autoscalingv2.ResourceMetricSourceType, autoscalingv2.PodsMetricSourceType, autoscalingv2.ObjectMetricSourceType, autoscalingv2.ExternalMetricSourceType}},
		{name: "a failed metric does not stop a scale up", metrics: []autoscalingv2.MetricSpec{cpuAt(25), qpsPerPod}, replicas: 6,
			metric: "cpu resource utilization (percentage of request)", usable: true, types: []autoscalingv2.MetricSourceType{autoscalingv2.ResourceMetricSourceType, ""},
			events:  []string{"Warning FailedGetPodsMetric unable to get metric qps: the custom.metrics.k8s.io API is not served by this cluster"},
			wantErr: "invalid metrics (1 invalid out of 2), first error is: failed to get pods metric value: unable to get metric qps: the custom.metrics.k8s.io API is not served"},
		{name: "a failed metric stops a scale down", metrics: []autoscalingv2.MetricSpec{cpuAt(100), backlogPerPod}, replicas: 2, metric: "cpu resource utilization (percentage of request)",
			types:   []autoscalingv2.MetricSourceType{autoscalingv2.ResourceMetricSourceType, ""},
			events:  []string{"Warning FailedGetExternalMetric unable to get external metric ns/backlog/queue=jobs: the external.metrics.k8s.io API is not served by this cluster"},
			wantErr: "first error is: failed to get backlog external metric value: unable to get external metric ns/backlog/queue=jobs"},
		{name: "every metric failed", metrics: []autoscalingv2.MetricSpec{queueLength}, types: []autoscalingv2.MetricSourceType{""},
			events:  []string{"Warning FailedGetObjectMetric unable to get metric length on Service ns/queue: the custom.metrics.k8s.io API is not served by this cluster"},
			wantErr: "invalid metrics (1 invalid out of 1)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			recorder := record.NewFakeRecorder(10)
			r := NewReconciler(nil, nil, recorder, clocktesting.NewFakePassiveClock(now), settings, f.store(), tc.apis)
			hpa := &autoscalingv1alpha1.HorizontalPodAutoscaler{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "web"}}
			hpa.Spec.Metrics = tc.metrics
			p := r.propose(metricInput{hpa: hpa, pods: f.build(), selector: labels.Everything(), specReplicas: 3, statusReplicas: 3, calc: testCalculator()})
			if p.usable(3) != tc.usable || (tc.usable && (p.replicas != tc.replicas || p.metric != tc.metric)) {
				t.Errorf("proposed %d from %q (usable %t), want %d from %q (usable %t)", p.replicas, p.metric, p.usable(3), tc.replicas, tc.metric, tc.usable)
			}
			var types []autoscalingv2.MetricSourceType
			for _, s := range p.statuses {
				types = append(types, s.Type)
			}
			if diff := cmp.Diff(tc.types, types); diff != "" {
				t.Errorf("statuses: %s", diff)
			}
			close(recorder.Events)
			var events []string
			for e := range recorder.Events {
				events = append(events, e)
			}
			if len(events) != len(tc.events) {
				t.Fatalf("events %q, want %d", events, len(tc.events))
			}
			for i, e := range events {
				if !strings.HasPrefix(e, tc.events[i]) {
					t.Errorf("event %q, want it to start %q", e, tc.events[i])
				}
			}
			if err := p.err(); (err == nil) != (tc.wantErr == "") || (err != nil && !strings.Contains(err.Error(), tc.wantErr)) {
				t.Errorf("error %v, want one containing %q", err, tc.wantErr)
			}
		})
	}
}

// settings are kube-controller-manager's defaults, with upstream's test CPU initialization
// period and readiness delay.
var settings = setup.HPASettings{SyncPeriod: 15 * time.Second, Tolerance: testTolerance, DownscaleStabilization: 5 * time.Minute,
	CPUInitializationPeriod: testCPUInitialization, InitialReadinessDelay: testReadinessDelay}

// fakeDiscovery serves groups, counting its calls.
type fakeDiscovery struct {
	groups []string
	calls  int
	err    error
}

func (f *fakeDiscovery) ServerGroups() (*metav1.APIGroupList, error) {
	f.calls++
	list := &metav1.APIGroupList{}
	for _, g := range f.groups {
		list.Groups = append(list.Groups, metav1.APIGroup{Name: g})
	}
	return list, f.err
}

func TestServedGroups(t *testing.T) {
	clk := clocktesting.NewFakePassiveClock(now)
	disco := &fakeDiscovery{groups: []string{"apps", externalMetricsGroup}}
	refreshed := 0
	s := &servedGroups{discovery: disco, clock: clk, ttl: 15 * time.Second, refreshed: func() { refreshed++ }}
	if err := s.require(externalMetricsGroup); err != nil {
		t.Fatal(err)
	}
	err := s.require(customMetricsGroup)
	if err == nil || !strings.Contains(err.Error(), "custom.metrics.k8s.io API is not served") || !strings.Contains(err.Error(), "APIService") {
		t.Fatalf("error %v, want one naming the API and how to serve it", err)
	}
	if disco.calls != 1 {
		t.Errorf("discovery asked %d times within its TTL, want once", disco.calls)
	}
	disco.groups = append(disco.groups, customMetricsGroup)
	clk.SetTime(now.Add(15 * time.Second))
	if err := s.require(customMetricsGroup); err != nil {
		t.Errorf("after the TTL, an adapter installed meanwhile: %v", err)
	}
	if disco.calls != 2 || refreshed != 2 {
		t.Errorf("discovery asked %d times and caches refreshed %d times, want 2 and 2", disco.calls, refreshed)
	}
	disco.err = errors.New("boom")
	clk.SetTime(now.Add(time.Minute))
	if err := s.require(customMetricsGroup); err == nil || !strings.Contains(err.Error(), "boom") {
		t.Errorf("discovery failing: error %v", err)
	}
}
