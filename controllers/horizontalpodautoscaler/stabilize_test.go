package horizontalpodautoscaler

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/utils/ptr"
)

// recs are recommendations made the given time before now.
func recs(r ...any) []recommendation {
	var out []recommendation
	for i := 0; i < len(r); i += 2 {
		out = append(out, recommendation{replicas: int32(r[i].(int)), at: now.Add(-r[i+1].(time.Duration))})
	}
	return out
}

func counts(rs []recommendation) []int32 {
	out := make([]int32, len(rs))
	for i, r := range rs {
		out[i] = r.replicas
	}
	return out
}

// The cases are upstream's (horizontal_test.go).
func TestStabilizeWithBehavior(t *testing.T) {
	const minute = time.Minute
	for _, tc := range []struct {
		name             string
		recs             []recommendation
		current, desired int32
		up, down         time.Duration
		want             int32
		// kept are the recommendations after, nil when not checked.
		kept []int32
	}{
		{name: "nothing to stabilize", current: 100, desired: 5, want: 5, kept: []int32{5}},
		{name: "down to 3 held at 5 by the 3-minute window", recs: recs(4, 2*minute, 5, minute), current: 100, desired: 3, down: 3 * minute, want: 5, kept: []int32{4, 5, 3}},
		{name: "up to 7 held at 4 by the 5-minute window", recs: recs(4, 2*minute, 5, minute), current: 1, desired: 7, up: 5 * minute, want: 4, kept: []int32{4, 5, 7}},
		{name: "down to 3 over lower recommendations", recs: recs(1, 2*minute, 2, minute), current: 100, desired: 3, up: 5 * minute, want: 3, kept: []int32{1, 2, 3}},
		{name: "up to 3 over higher recommendations", recs: recs(4, 2*minute, 5, minute), current: 1, desired: 3, down: 5 * minute, want: 3, kept: []int32{4, 5, 3}},
		{name: "down past old recommendations, the last old slot reused", recs: recs(10, 10*minute, 9, 9*minute), current: 100, desired: 3, want: 3, kept: []int32{10, 3}},
		{name: "up past old recommendations, the last old slot reused", recs: recs(10, 10*minute, 9, 9*minute), current: 1, desired: 100, want: 100, kept: []int32{10, 100}},
		{name: "down held at 5, the old slot reused", recs: recs(10, 10*minute, 4, minute, 5, 2*minute, 9, 9*minute), current: 100, desired: 3, down: 3 * minute,
			want: 5, kept: []int32{10, 4, 5, 3}},
		{name: "up held at 5, only the slot old for both windows reused", recs: recs(10, 100*minute, 6, minute, 5, 2*minute, 9, 3*minute), current: 1, desired: 100,
			up: 5 * minute, down: 5 * minute, want: 5, kept: []int32{100, 6, 5, 9}},
		{name: "a falling recommendation does not scale up", recs: recs(2, 100*minute, 3, 3*minute), current: 2, desired: 1, up: 5 * minute, down: 5 * minute, want: 2},
		{name: "a rising recommendation does not scale down", recs: recs(2, 100*minute, 1, 3*minute), current: 2, desired: 3, up: 5 * minute, down: 5 * minute, want: 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := &memory{recommendations: tc.recs}
			got, _, _ := m.stabilize(tc.current, tc.desired, tc.up, tc.down, now)
			if got != tc.want {
				t.Errorf("stabilized to %d, want %d", got, tc.want)
			}
			if tc.kept != nil {
				if diff := cmp.Diff(tc.kept, counts(m.recommendations)); diff != "" {
					t.Errorf("kept recommendations: %s", diff)
				}
			}
		})
	}
}

func TestStabilizeDownscale(t *testing.T) {
	const minute = time.Minute
	for _, tc := range []struct {
		name    string
		recs    []recommendation
		desired int32
		want    int32
		kept    int
	}{
		{name: "no recommendations", desired: 5, want: 5, kept: 1},
		{name: "held at the highest of the window", recs: recs(4, 2*minute, 5, minute), desired: 3, want: 5, kept: 3},
		{name: "lower recommendations do not hold", recs: recs(1, 2*minute, 2, minute), desired: 3, want: 3, kept: 3},
		{name: "old recommendations do not hold, and make room", recs: recs(10, 10*minute, 9, 9*minute), desired: 3, want: 3, kept: 2},
		{name: "held by the recent ones only", recs: recs(10, 10*minute, 4, minute, 5, 2*minute, 9, 9*minute), desired: 3, want: 5, kept: 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := &memory{recommendations: tc.recs}
			if got := m.stabilizeDownscale(tc.desired, 5*minute, now); got != tc.want {
				t.Errorf("stabilized to %d, want %d", got, tc.want)
			}
			if len(m.recommendations) != tc.kept {
				t.Errorf("kept %d recommendations, want %d", len(m.recommendations), tc.kept)
			}
		})
	}
}

func TestLegacyLimit(t *testing.T) {
	for _, tc := range []struct {
		name                       string
		current, desired, min, max int32
		want                       int32
		wantReason                 string
	}{
		{name: "within range", current: 5, desired: 7, min: 3, max: 8, want: 7, wantReason: ReasonDesiredWithinRange},
		{name: "below min", current: 3, desired: 1, min: 2, max: 8, want: 2, wantReason: ReasonTooFewReplicas},
		{name: "zero with min 0", current: 1, desired: 0, min: 0, max: 10, want: 0, wantReason: ReasonDesiredWithinRange},
		{name: "max is below twice the current count", current: 20, desired: 1000, min: 1, max: 10, want: 10, wantReason: ReasonTooManyReplicas},
		{name: "twice the current count is below max", current: 3, desired: 1000, min: 1, max: 2000, want: 6, wantReason: ReasonScaleUpLimit},
		{name: "at least 4", current: 1, desired: 1000, min: 1, max: 2000, want: 4, wantReason: ReasonScaleUpLimit},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, reason, _ := normalization{current: tc.current, min: tc.min, max: tc.max}.legacy(tc.desired)
			if got != tc.want || reason != tc.wantReason {
				t.Errorf("got %d (%s), want %d (%s)", got, reason, tc.want, tc.wantReason)
			}
		})
	}
}

func TestNormalizeConditions(t *testing.T) {
	b := withDefaults(&autoscalingv2.HorizontalPodAutoscalerBehavior{}, time.Minute)
	for _, tc := range []struct {
		name          string
		n             normalization
		recs          []recommendation
		want          int32
		able, limited condition
	}{
		{name: "without behavior, a scale down held by the window",
			n: normalization{current: 5, desired: 2, min: 1, max: 10, downscaleWindow: 5 * time.Minute}, recs: recs(5, time.Minute), want: 5,
			able:    condition{autoscalingv2.AbleToScale, corev1.ConditionTrue, ReasonScaleDownStabilized, msgScaleDownStabilized},
			limited: condition{autoscalingv2.ScalingLimited, corev1.ConditionFalse, ReasonDesiredWithinRange, msgWithinRange}},
		{name: "with the default behavior, a scale up at max",
			n: normalization{current: 5, desired: 12, min: 1, max: 8, behavior: b}, want: 8,
			able:    condition{autoscalingv2.AbleToScale, corev1.ConditionTrue, ReasonReadyForNewScale, "recommended size matches current size"},
			limited: condition{autoscalingv2.ScalingLimited, corev1.ConditionTrue, ReasonTooManyReplicas, msgTooMany}},
		{name: "with the default behavior, a scale down after its 1-minute window",
			n: normalization{current: 5, desired: 2, min: 1, max: 8, behavior: b}, recs: recs(5, 2*time.Minute), want: 2,
			able:    condition{autoscalingv2.AbleToScale, corev1.ConditionTrue, ReasonReadyForNewScale, "recommended size matches current size"},
			limited: condition{autoscalingv2.ScalingLimited, corev1.ConditionFalse, ReasonDesiredWithinRange, msgWithinRange}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := &memory{recommendations: tc.recs}
			got, able, limited := m.normalize(tc.n, now)
			if got != tc.want {
				t.Errorf("normalized to %d, want %d", got, tc.want)
			}
			if diff := cmp.Diff([]condition{tc.able, tc.limited}, []condition{able, limited}, cmp.AllowUnexported(condition{})); diff != "" {
				t.Error(diff)
			}
		})
	}
}

func TestWithDefaults(t *testing.T) {
	if withDefaults(nil, time.Minute) != nil {
		t.Error("no behavior: want none")
	}
	maxChange := autoscalingv2.MaxChangePolicySelect
	minChange := autoscalingv2.MinChangePolicySelect
	got := withDefaults(&autoscalingv2.HorizontalPodAutoscalerBehavior{ScaleDown: &autoscalingv2.HPAScalingRules{
		StabilizationWindowSeconds: ptr.To[int32](10), SelectPolicy: &minChange, Tolerance: ptr.To(resource.MustParse("0.05")),
	}}, 5*time.Minute)
	want := &autoscalingv2.HorizontalPodAutoscalerBehavior{
		ScaleUp: &autoscalingv2.HPAScalingRules{StabilizationWindowSeconds: ptr.To[int32](0), SelectPolicy: &maxChange, Policies: []autoscalingv2.HPAScalingPolicy{
			{Type: autoscalingv2.PodsScalingPolicy, Value: 4, PeriodSeconds: 15}, {Type: autoscalingv2.PercentScalingPolicy, Value: 100, PeriodSeconds: 15}}},
		ScaleDown: &autoscalingv2.HPAScalingRules{StabilizationWindowSeconds: ptr.To[int32](10), SelectPolicy: &minChange, Tolerance: ptr.To(resource.MustParse("0.05")),
			Policies: []autoscalingv2.HPAScalingPolicy{{Type: autoscalingv2.PercentScalingPolicy, Value: 100, PeriodSeconds: 15}}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Error(diff)
	}
	if w := *withDefaults(&autoscalingv2.HorizontalPodAutoscalerBehavior{}, 5*time.Minute).ScaleDown.StabilizationWindowSeconds; w != 300 {
		t.Errorf("default scale-down window %ds, want the flag's 300s", w)
	}
}
