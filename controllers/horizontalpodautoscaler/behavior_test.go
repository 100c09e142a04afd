package horizontalpodautoscaler

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	"k8s.io/utils/ptr"
)

// The cases below are upstream's (horizontal_test.go).

// rules is a direction's rules with selectPolicy Max: a pods policy and a percent policy
// (each left out when 0) and a stabilization window.
func rules(pods, podsPeriod, percent, percentPeriod, window int32) *autoscalingv2.HPAScalingRules {
	r := &autoscalingv2.HPAScalingRules{StabilizationWindowSeconds: ptr.To(window), SelectPolicy: ptr.To(autoscalingv2.MaxChangePolicySelect)}
	if pods != 0 {
		r.Policies = append(r.Policies, autoscalingv2.HPAScalingPolicy{Type: autoscalingv2.PodsScalingPolicy, Value: pods, PeriodSeconds: podsPeriod})
	}
	if percent != 0 {
		r.Policies = append(r.Policies, autoscalingv2.HPAScalingPolicy{Type: autoscalingv2.PercentScalingPolicy, Value: percent, PeriodSeconds: percentPeriod})
	}
	return r
}

// spread spreads scale events evenly over the last period seconds, each in the middle of
// its share: 3 events over 120s happened 100s, 60s and 20s ago.
func spread(period int, changes ...int32) []scaleEvent {
	share := time.Duration(period) * time.Second / time.Duration(len(changes))
	events := make([]scaleEvent, len(changes))
	for i, c := range changes {
		events[i] = scaleEvent{change: c, at: now.Add(-time.Duration(period)*time.Second + share*time.Duration(i) + share/2)}
	}
	return events
}

func TestLimitWithBehavior(t *testing.T) {
	for _, tc := range []struct {
		name             string
		ups, downs       []scaleEvent
		min, max         int32
		up, down         *autoscalingv2.HPAScalingRules
		current, desired int32
		want             int32
		wantReason       string
	}{
		{name: "5 → 7 within [3, 8]", current: 5, desired: 7, min: 3, max: 8, want: 7, wantReason: ReasonDesiredWithinRange},
		{name: "3 → 1 below min 2", current: 3, desired: 1, min: 2, max: 8, want: 2, wantReason: ReasonTooFewReplicas},
		{name: "1 → 0 with min 0", current: 1, desired: 0, min: 0, max: 10, want: 0, wantReason: ReasonDesiredWithinRange},
		{name: "20 → 1000 above max 10", current: 20, desired: 1000, min: 1, max: 10, want: 10, wantReason: ReasonTooManyReplicas},
		{name: "100 → 1000 above max 150", current: 100, desired: 1000, min: 100, max: 150, want: 150, wantReason: ReasonTooManyReplicas},
		{name: "3 → 1000 at 1% per 60s", current: 3, desired: 1000, min: 1, max: 2000, up: rules(0, 0, 1, 60, 0), want: 4, wantReason: ReasonScaleUpLimit},
		{name: "10 → 50 by the defaults, 100% per 15s", current: 10, desired: 50, min: 1, max: 1000, want: 20, wantReason: ReasonScaleUpLimit},
		{name: "10 → 500: 100 pods beats 100%", current: 10, desired: 500, min: 1, max: 1000, up: rules(100, 60, 100, 60, 0), want: 110, wantReason: ReasonScaleUpLimit},
		{name: "10 → 500: 100% beats 2 pods", current: 10, desired: 500, min: 1, max: 1000, up: rules(2, 60, 100, 60, 0), want: 20, wantReason: ReasonScaleUpLimit},
		{name: "10 → 50 under 100 pods", current: 10, desired: 50, min: 1, max: 1000, up: rules(100, 60, 0, 0, 0), want: 50, wantReason: ReasonDesiredWithinRange},
		{name: "10 → 50 under 10000 pods", current: 10, desired: 50, min: 1, max: 1000, up: rules(10000, 60, 0, 0, 0), want: 50, wantReason: ReasonDesiredWithinRange},
		{name: "10 → 50 at 30 pods", current: 10, desired: 50, min: 1, max: 1000, up: rules(30, 60, 0, 0, 0), want: 40, wantReason: ReasonScaleUpLimit},
		{name: "10 → 50 at 200%", current: 10, desired: 50, min: 1, max: 1000, up: rules(0, 0, 200, 60, 0), want: 30, wantReason: ReasonScaleUpLimit},
		{name: "100 → 2: 20 pods beats 1%", current: 100, desired: 2, min: 1, max: 1000, down: rules(20, 60, 1, 60, 300), want: 80, wantReason: ReasonScaleDownLimit},
		{name: "100 → 2: 2 pods beats 1%", current: 100, desired: 2, min: 1, max: 1000, down: rules(2, 60, 1, 60, 300), want: 98, wantReason: ReasonScaleDownLimit},
		{name: "10 → 0 under 100 pods stops at min 1", current: 10, desired: 0, min: 1, max: 1000, down: rules(100, 60, 0, 0, 300), want: 1, wantReason: ReasonTooFewReplicas},
		{name: "10 → 2 under 100% stops at min 5", current: 10, desired: 2, min: 5, max: 1000, down: rules(0, 0, 100, 60, 300), want: 5, wantReason: ReasonTooFewReplicas},
		{name: "10 → 2 at 5 pods", current: 10, desired: 2, min: 1, max: 1000, down: rules(5, 60, 0, 0, 300), want: 5, wantReason: ReasonScaleDownLimit},
		{name: "10 → 5 under 50%", current: 10, desired: 5, min: 1, max: 1000, down: rules(0, 0, 50, 60, 300), want: 5, wantReason: ReasonDesiredWithinRange},
		{name: "100 → 500 after scale ups, 300 pods per 60s: max 200", ups: spread(120, 1, 5, 9), current: 100, desired: 500, min: 1, max: 200,
			up: rules(300, 60, 0, 0, 0), want: 200, wantReason: ReasonTooManyReplicas},
		{name: "100 → 500 after scale ups, 10000% per 60s: max 200", ups: spread(120, 1, 5, 9), current: 100, desired: 500, min: 1, max: 200,
			up: rules(0, 0, 10000, 60, 0), want: 200, wantReason: ReasonTooManyReplicas},
		{name: "100 → 500 after 15 added in 120s, 5 pods per 120s: none more", ups: spread(120, 1, 5, 9), current: 100, desired: 500, min: 1, max: 1000,
			up: rules(5, 120, 0, 0, 0), want: 100, wantReason: ReasonScaleUpLimit},
		{name: "100 → 500 after 15 added in 120s, 150 pods per 120s → 235", ups: spread(120, 1, 5, 9), current: 100, desired: 500, min: 1, max: 1000,
			up: rules(150, 120, 0, 0, 0), want: 235, wantReason: ReasonScaleUpLimit},
		{name: "100 → 500 after 15 added in 120s, 200% per 120s → 255", ups: spread(120, 1, 5, 9), current: 100, desired: 500, min: 1, max: 1000,
			up: rules(0, 0, 200, 120, 0), want: 255, wantReason: ReasonScaleUpLimit},
		{name: "6 → 24 after +4 and -2, 300% per 300s → 16", ups: spread(120, 4), downs: spread(120, 2), current: 6, desired: 24, min: 1, max: 1000,
			up: rules(0, 0, 300, 300, 0), want: 16, wantReason: ReasonScaleUpLimit},
		{name: "10 → 5 after scale downs, default policy", downs: spread(120, 1, 5, 9), current: 10, desired: 5, min: 1, max: 1000, want: 5, wantReason: ReasonDesiredWithinRange},
		{name: "100 → 0 after scale downs, 115 pods per 120s, min 1", downs: spread(120, 1, 5, 9), current: 100, desired: 0, min: 1, max: 1000,
			down: rules(115, 120, 0, 0, 300), want: 1, wantReason: ReasonTooFewReplicas},
		{name: "100 → 0 after scale downs, 130 pods per 120s, min 5", downs: spread(120, 1, 5, 9), current: 100, desired: 0, min: 5, max: 1000,
			down: rules(130, 120, 0, 0, 300), want: 5, wantReason: ReasonTooFewReplicas},
		{name: "100 → 2 after scale downs, 100% per 120s, min 5", downs: spread(120, 1, 5, 9), current: 100, desired: 2, min: 5, max: 1000,
			down: rules(0, 0, 100, 120, 300), want: 5, wantReason: ReasonTooFewReplicas},
		{name: "100 → 2 after 15 removed in 120s, 5 pods per 120s: none fewer", downs: spread(120, 1, 5, 9), current: 100, desired: 2, min: 1, max: 1000,
			down: rules(5, 120, 0, 0, 300), want: 100, wantReason: ReasonScaleDownLimit},
		{name: "100 → 0 after 12 removed in 120s, 50% per 120s → 56", downs: spread(120, 2, 4, 6), current: 100, desired: 0, min: 1, max: 1000,
			down: rules(0, 0, 50, 120, 300), want: 56, wantReason: ReasonScaleDownLimit},
		{name: "10 → 1 after +2 and -4, 50% per 180s → 6", ups: spread(120, 2), downs: spread(120, 4), current: 10, desired: 1, min: 1, max: 1000,
			down: rules(0, 0, 50, 180, 0), want: 6, wantReason: ReasonScaleDownLimit},
		{name: "100 → 0 after 30 removed in 120s, 10% per 120s: none fewer", downs: spread(120, 10, 10, 10), current: 100, desired: 0, min: 1, max: 1000,
			down: rules(0, 0, 10, 120, 300), want: 100, wantReason: ReasonScaleDownLimit},
		{name: "10 → 5 after 30 removed in 120s, 1000% per 120s", downs: spread(120, 10, 10, 10), current: 10, desired: 5, min: 1, max: 1000,
			down: rules(0, 0, 1000, 120, 300), want: 5, wantReason: ReasonDesiredWithinRange},
		{name: "100 → 200 after older scale ups, 1000 pods per 60s", ups: spread(120, 8, 12, 9, 11), current: 100, desired: 200, min: 1, max: 1000,
			up: rules(1000, 60, 0, 0, 0), want: 200, wantReason: ReasonDesiredWithinRange},
		{name: "100 → 200 after older scale ups, 1000 pods per 120s or 100% per 60s", ups: spread(120, 8, 12, 9, 11), current: 100, desired: 200, min: 1, max: 1000,
			up: rules(1000, 120, 100, 60, 0), want: 200, wantReason: ReasonDesiredWithinRange},
		{name: "100 → 200 after older scale ups, 1000 pods per 30s or 100% per 60s", ups: spread(120, 8, 12, 9, 11), current: 100, desired: 200, min: 1, max: 1000,
			up: rules(1000, 30, 100, 60, 0), want: 200, wantReason: ReasonDesiredWithinRange},
		{name: "100 → 5 after older scale downs, 1000 pods per 60s", downs: spread(120, 8, 12, 9, 11), current: 100, desired: 5, min: 1, max: 1000,
			down: rules(1000, 60, 0, 0, 300), want: 5, wantReason: ReasonDesiredWithinRange},
		{name: "100 → 5 after older scale downs, 1000 pods per 120s or 100% per 60s", downs: spread(120, 8, 12, 9, 11), current: 100, desired: 5, min: 1, max: 1000,
			down: rules(1000, 120, 100, 60, 300), want: 5, wantReason: ReasonDesiredWithinRange},
		{name: "100 → 5 after older scale downs, 1000 pods per 30s or 100% per 60s", downs: spread(120, 8, 12, 9, 11), current: 100, desired: 5, min: 1, max: 1000,
			down: rules(1000, 30, 100, 60, 300), want: 5, wantReason: ReasonDesiredWithinRange},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := &memory{scaleUps: tc.ups, scaleDowns: tc.downs}
			n := normalization{current: tc.current, min: tc.min, max: tc.max,
				behavior: withDefaults(&autoscalingv2.HorizontalPodAutoscalerBehavior{ScaleUp: tc.up, ScaleDown: tc.down}, 5*time.Minute)}
			got, reason, _ := m.limit(n, tc.desired, now)
			if got != tc.want || reason != tc.wantReason {
				t.Errorf("got %d (%s), want %d (%s)", got, reason, tc.want, tc.wantReason)
			}
		})
	}
}

func TestSelectPolicy(t *testing.T) {
	both := func(p autoscalingv2.ScalingPolicySelect) *autoscalingv2.HPAScalingRules {
		r := rules(2, 60, 50, 60, 300)
		r.SelectPolicy = &p
		return r
	}
	for _, tc := range []struct {
		name     string
		policy   autoscalingv2.ScalingPolicySelect
		up, down int32
	}{
		// From 5: 2 pods allows 7 or 3, 50% allows 8 or 2.
		{name: "Min takes the smaller change", policy: autoscalingv2.MinChangePolicySelect, up: 7, down: 3},
		{name: "Max takes the larger change", policy: autoscalingv2.MaxChangePolicySelect, up: 8, down: 2},
		{name: "Disabled takes none", policy: autoscalingv2.DisabledPolicySelect, up: 5, down: 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := scaleUpLimit(5, nil, nil, both(tc.policy), now); got != tc.up {
				t.Errorf("scale up limit %d, want %d", got, tc.up)
			}
			if got := scaleDownLimit(5, nil, nil, both(tc.policy), now); got != tc.down {
				t.Errorf("scale down limit %d, want %d", got, tc.down)
			}
		})
	}
	if got := scaleUpLimit(1, nil, nil, both(autoscalingv2.MinChangePolicySelect), now); got != 2 {
		t.Errorf("from 1 at Min of 2 pods and 50%%: %d, want 2", got)
	}
}

func TestRecordScale(t *testing.T) {
	ago := func(s int) time.Time { return now.Add(-time.Duration(s) * time.Second) }
	type event struct {
		change   int32
		outdated bool
	}
	for _, tc := range []struct {
		name string
		prev []scaleEvent
		// rules nil: no behavior, nothing recorded.
		rules *autoscalingv2.HPAScalingRules
		// inPeriod is what the previous events changed in the last 60s.
		inPeriod int32
		want     []event
	}{
		{name: "no behavior, no events"},
		{name: "the first event", rules: rules(10, 60, 100, 60, 0), want: []event{{5, false}}},
		{name: "no behavior leaves an old event alone", prev: []scaleEvent{{change: 7, at: ago(61)}}, want: []event{{7, false}}},
		{name: "an event past every period is replaced", prev: []scaleEvent{{change: 7, at: ago(61)}}, rules: rules(10, 60, 100, 60, 0), want: []event{{5, false}}},
		{name: "an event within the period is kept", prev: []scaleEvent{{change: 7, at: ago(58)}}, rules: rules(10, 60, 100, 60, 0), inPeriod: 7,
			want: []event{{7, false}, {5, false}}},
		{name: "of two events, the old one is replaced", prev: []scaleEvent{{change: 7, at: ago(61)}, {change: 6, at: ago(59)}}, rules: rules(10, 60, 0, 0, 0), inPeriod: 6,
			want: []event{{5, false}, {6, false}}},
		{name: "of two old events, the last is replaced and the other marked",
			prev:  []scaleEvent{{change: 8, at: ago(29)}, {change: 6, at: ago(59)}, {change: 7, at: ago(61)}, {change: 9, at: ago(61)}},
			rules: rules(10, 60, 100, 30, 0), inPeriod: 14, want: []event{{8, false}, {6, false}, {7, true}, {5, false}}},
		{name: "events within the longest period are kept", prev: []scaleEvent{{change: 7, at: ago(58)}, {change: 6, at: ago(59)}},
			rules: rules(10, 120, 100, 30, 0), inPeriod: 13, want: []event{{7, false}, {6, false}, {5, false}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, dir := range []struct {
				name   string
				next   int32
				events func(*memory) *[]scaleEvent
				b      func(*autoscalingv2.HPAScalingRules) *autoscalingv2.HorizontalPodAutoscalerBehavior
			}{
				{"up", 15, func(m *memory) *[]scaleEvent { return &m.scaleUps }, func(r *autoscalingv2.HPAScalingRules) *autoscalingv2.HorizontalPodAutoscalerBehavior {
					return &autoscalingv2.HorizontalPodAutoscalerBehavior{ScaleUp: r}
				}},
				{"down", 5, func(m *memory) *[]scaleEvent { return &m.scaleDowns }, func(r *autoscalingv2.HPAScalingRules) *autoscalingv2.HorizontalPodAutoscalerBehavior {
					return &autoscalingv2.HorizontalPodAutoscalerBehavior{ScaleDown: r}
				}},
			} {
				m := &memory{}
				*dir.events(m) = append([]scaleEvent{}, tc.prev...)
				if got := changeSince(60, *dir.events(m), now); got != tc.inPeriod {
					t.Errorf("%s: change in the last 60s %d, want %d", dir.name, got, tc.inPeriod)
				}
				var b *autoscalingv2.HorizontalPodAutoscalerBehavior
				if tc.rules != nil {
					b = dir.b(tc.rules)
				}
				m.recordScale(b, 10, dir.next, now)
				var got []event
				for _, e := range *dir.events(m) {
					got = append(got, event{e.change, e.outdated})
				}
				if diff := cmp.Diff(tc.want, got, cmp.AllowUnexported(event{})); diff != "" {
					t.Errorf("%s: %s", dir.name, diff)
				}
			}
		})
	}
}
