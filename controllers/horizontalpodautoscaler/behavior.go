package horizontalpodautoscaler

import (
	"math"
	"time"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"
)

// withDefaults is b with what it leaves unset filled from autoscaling/v2's defaults
// (upstream's pkg/apis/autoscaling/v2/defaults.go; the apiserver applies them there, the
// controller does here, since a CRD's schema cannot default one field from another): scale
// up at once, by up to 4 pods or 100% per 15s, whichever is more; scale down after
// downscaleWindow, by up to 100% per 15s. A nil b stays nil: without a behavior,
// upstream's older rules apply (normalization.legacy).
func withDefaults(b *autoscalingv2.HorizontalPodAutoscalerBehavior, downscaleWindow time.Duration) *autoscalingv2.HorizontalPodAutoscalerBehavior {
	if b == nil {
		return nil
	}
	up := autoscalingv2.HPAScalingRules{
		StabilizationWindowSeconds: ptr.To[int32](0),
		SelectPolicy:               ptr.To(autoscalingv2.MaxChangePolicySelect),
		Policies: []autoscalingv2.HPAScalingPolicy{
			{Type: autoscalingv2.PodsScalingPolicy, Value: 4, PeriodSeconds: 15},
			{Type: autoscalingv2.PercentScalingPolicy, Value: 100, PeriodSeconds: 15},
		},
	}
	down := autoscalingv2.HPAScalingRules{
		StabilizationWindowSeconds: ptr.To(int32(downscaleWindow / time.Second)),
		SelectPolicy:               ptr.To(autoscalingv2.MaxChangePolicySelect),
		Policies:                   []autoscalingv2.HPAScalingPolicy{{Type: autoscalingv2.PercentScalingPolicy, Value: 100, PeriodSeconds: 15}},
	}
	return &autoscalingv2.HorizontalPodAutoscalerBehavior{ScaleUp: overlay(b.ScaleUp, up), ScaleDown: overlay(b.ScaleDown, down)}
}

// overlay is def with the fields set in rules replacing its own.
func overlay(rules *autoscalingv2.HPAScalingRules, def autoscalingv2.HPAScalingRules) *autoscalingv2.HPAScalingRules {
	if rules == nil {
		return &def
	}
	if rules.StabilizationWindowSeconds != nil {
		def.StabilizationWindowSeconds = rules.StabilizationWindowSeconds
	}
	if rules.SelectPolicy != nil {
		def.SelectPolicy = rules.SelectPolicy
	}
	if rules.Policies != nil {
		def.Policies = rules.Policies
	}
	def.Tolerance = rules.Tolerance
	return &def
}

// normalization is the input of normalize: the target's replicas now, the metrics'
// recommendation, the autoscaler's bounds and its behavior with defaults (nil for none).
type normalization struct {
	current, desired, min, max int32
	behavior                   *autoscalingv2.HorizontalPodAutoscalerBehavior
	// downscaleWindow is the scale-down stabilization window of autoscalers without a
	// behavior.
	downscaleWindow time.Duration
}

// normalize is the count to scale to from n.desired, after stabilization and limits, with
// the AbleToScale condition (whether stabilization changed the recommendation) and the
// ScalingLimited one (whether a limit did). The recommendation is recorded in m.
func (m *memory) normalize(n normalization, now time.Time) (int32, condition, condition) {
	var stabilized, limited int32
	var stabilizedReason, stabilizedMessage, limitReason, limitMessage string
	if n.behavior == nil {
		stabilized = m.stabilizeDownscale(n.desired, n.downscaleWindow, now)
		stabilizedReason, stabilizedMessage = ReasonScaleDownStabilized, msgScaleDownStabilized
		limited, limitReason, limitMessage = n.legacy(stabilized)
	} else {
		up := time.Duration(*n.behavior.ScaleUp.StabilizationWindowSeconds) * time.Second
		down := time.Duration(*n.behavior.ScaleDown.StabilizationWindowSeconds) * time.Second
		stabilized, stabilizedReason, stabilizedMessage = m.stabilize(n.current, n.desired, up, down, now)
		limited, limitReason, limitMessage = m.limit(n, stabilized, now)
	}
	able := cond(autoscalingv2.AbleToScale, corev1.ConditionTrue, ReasonReadyForNewScale, "recommended size matches current size")
	if stabilized != n.desired {
		able = cond(autoscalingv2.AbleToScale, corev1.ConditionTrue, stabilizedReason, "%s", stabilizedMessage)
	}
	limitedStatus := corev1.ConditionTrue
	if limited == stabilized {
		limitedStatus = corev1.ConditionFalse
	}
	return limited, able, cond(autoscalingv2.ScalingLimited, limitedStatus, limitReason, "%s", limitMessage)
}

const (
	msgScaleUpStabilized   = "recent recommendations were lower than current one, applying the lowest recent recommendation"
	msgScaleDownStabilized = "recent recommendations were higher than current one, applying the highest recent recommendation"
	msgTooFew              = "the desired replica count is less than the minimum replica count"
	msgTooMany             = "the desired replica count is more than the maximum replica count"
	msgScaleUpLimit        = "the desired replica count is increasing faster than the maximum scale rate"
	msgScaleDownLimit      = "the desired replica count is decreasing faster than the maximum scale rate"
	msgWithinRange         = "the desired count is within the acceptable range"
)

// stabilizeDownscale is the stabilization of autoscalers without a behavior: the highest
// recommendation of the last window wins, so a scale down happens only once the whole
// window asked for it. Example: recommendations 4 and 5 in the last 5 minutes and 3 now
// keep 5.
func (m *memory) stabilizeDownscale(desired int32, window time.Duration, now time.Time) int32 {
	cutoff := now.Add(-window)
	highest, stale := desired, -1
	for i, rec := range m.recommendations {
		if rec.at.Before(cutoff) {
			stale = i
		} else {
			highest = max(highest, rec.replicas)
		}
	}
	m.remember(stale, desired, now)
	return highest
}

// stabilize is the stabilization of autoscalers with a behavior: a scale up goes no
// higher than the lowest recommendation of the scale-up window, a scale down no lower
// than the highest of the scale-down window. Example: current 1, recommendations 4 and 5
// in a 5-minute scale-up window and 7 now scale to 4.
func (m *memory) stabilize(current, desired int32, upWindow, downWindow time.Duration, now time.Time) (int32, string, string) {
	upCutoff, downCutoff := now.Add(-upWindow), now.Add(-downWindow)
	upTo, downTo, stale := desired, desired, -1
	for i, rec := range m.recommendations {
		if rec.at.After(upCutoff) {
			upTo = min(upTo, rec.replicas)
		}
		if rec.at.After(downCutoff) {
			downTo = max(downTo, rec.replicas)
		}
		if rec.at.Before(upCutoff) && rec.at.Before(downCutoff) {
			stale = i
		}
	}
	m.remember(stale, desired, now)
	stabilized := min(max(current, upTo), downTo)
	if desired >= current {
		return stabilized, ReasonScaleUpStabilized, msgScaleUpStabilized
	}
	return stabilized, ReasonScaleDownStabilized, msgScaleDownStabilized
}

// remember records desired in the slot of the stale recommendation, or appends it when
// there is none (stale < 0), so the log holds no more than a window's worth.
func (m *memory) remember(stale int, desired int32, now time.Time) {
	rec := recommendation{replicas: desired, at: now}
	if stale >= 0 {
		m.recommendations[stale] = rec
		return
	}
	m.recommendations = append(m.recommendations, rec)
}

// legacy bounds desired for autoscalers without a behavior: by min and max replicas, and a
// scale up to at most twice the current count (at least 4), so that one bogus sample
// cannot explode a workload.
func (n normalization) legacy(desired int32) (int32, string, string) {
	upLimit := int32(math.Max(2*float64(n.current), 4))
	bound, reason, message := n.max, ReasonTooManyReplicas, msgTooMany
	if n.max > upLimit {
		bound, reason, message = upLimit, ReasonScaleUpLimit, msgScaleUpLimit
	}
	switch {
	case desired < n.min:
		return n.min, ReasonTooFewReplicas, msgTooFew
	case desired > bound:
		return bound, reason, message
	}
	return desired, ReasonDesiredWithinRange, msgWithinRange
}

// limit bounds desired by the behavior's policies and by min and max replicas; a policy
// never makes the count move the other way.
func (m *memory) limit(n normalization, desired int32, now time.Time) (int32, string, string) {
	switch {
	case desired > n.current:
		bound, reason, message := n.max, ReasonTooManyReplicas, msgTooMany
		if limit := max(scaleUpLimit(n.current, m.scaleUps, m.scaleDowns, n.behavior.ScaleUp, now), n.current); limit < n.max {
			bound, reason, message = limit, ReasonScaleUpLimit, msgScaleUpLimit
		}
		if desired > bound {
			return bound, reason, message
		}
	case desired < n.current:
		bound, reason, message := n.min, ReasonTooFewReplicas, msgTooFew
		if limit := min(scaleDownLimit(n.current, m.scaleUps, m.scaleDowns, n.behavior.ScaleDown, now), n.current); limit > n.min {
			bound, reason, message = limit, ReasonScaleDownLimit, msgScaleDownLimit
		}
		if desired < bound {
			return bound, reason, message
		}
	}
	return desired, ReasonDesiredWithinRange, msgWithinRange
}

// periodStart is how many replicas there were periodSeconds ago: current, less what scale
// ups added since, plus what scale downs removed.
func periodStart(current, periodSeconds int32, ups, downs []scaleEvent, now time.Time) int32 {
	return current - changeSince(periodSeconds, ups, now) + changeSince(periodSeconds, downs, now)
}

func changeSince(periodSeconds int32, events []scaleEvent, now time.Time) int32 {
	cutoff := now.Add(-time.Duration(periodSeconds) * time.Second)
	var change int32
	for _, e := range events {
		if e.at.After(cutoff) {
			change += e.change
		}
	}
	return change
}

// scaleUpLimit is the most replicas rules allow now. Each policy allows its value in pods,
// or in percent (rounded up), above the count at the start of its period; selectPolicy Max
// takes the most permissive policy, Min the least, Disabled allows nothing. Example: of 100
// replicas 15 were added within the last 120s; "5 pods per 120s" allows 100 - 15 + 5 = 90,
// and "200% per 120s" allows 85 × 3 = 255.
func scaleUpLimit(current int32, ups, downs []scaleEvent, rules *autoscalingv2.HPAScalingRules, now time.Time) int32 {
	if *rules.SelectPolicy == autoscalingv2.DisabledPolicySelect {
		return current
	}
	limit, pick := int32(math.MinInt32), func(a, b int32) int32 { return max(a, b) }
	if *rules.SelectPolicy == autoscalingv2.MinChangePolicySelect {
		limit, pick = math.MaxInt32, func(a, b int32) int32 { return min(a, b) }
	}
	for _, p := range rules.Policies {
		start := periodStart(current, p.PeriodSeconds, ups, downs, now)
		proposed := start + p.Value
		if p.Type == autoscalingv2.PercentScalingPolicy {
			proposed = int32(math.Ceil(float64(start) * (1 + float64(p.Value)/100)))
		}
		limit = pick(limit, proposed)
	}
	return limit
}

// scaleDownLimit is the fewest replicas rules allow now, as scaleUpLimit with percentages
// rounded down: selectPolicy Max takes the lowest count, Min the highest.
func scaleDownLimit(current int32, ups, downs []scaleEvent, rules *autoscalingv2.HPAScalingRules, now time.Time) int32 {
	if *rules.SelectPolicy == autoscalingv2.DisabledPolicySelect {
		return current
	}
	limit, pick := int32(math.MaxInt32), func(a, b int32) int32 { return min(a, b) }
	if *rules.SelectPolicy == autoscalingv2.MinChangePolicySelect {
		limit, pick = math.MinInt32, func(a, b int32) int32 { return max(a, b) }
	}
	for _, p := range rules.Policies {
		start := periodStart(current, p.PeriodSeconds, ups, downs, now)
		proposed := start - p.Value
		if p.Type == autoscalingv2.PercentScalingPolicy {
			proposed = int32(float64(start) * (1 - float64(p.Value)/100))
		}
		limit = pick(limit, proposed)
	}
	return limit
}

// recordScale remembers a rescale from prev to next replicas, for the policies of b (nil:
// none, and nothing to remember). Events older than the direction's longest policy period
// are marked outdated, and the new one takes the slot of the last of them.
func (m *memory) recordScale(b *autoscalingv2.HorizontalPodAutoscalerBehavior, prev, next int32, now time.Time) {
	if b == nil {
		return
	}
	events, rules, change := &m.scaleUps, b.ScaleUp, next-prev
	if next < prev {
		events, rules, change = &m.scaleDowns, b.ScaleDown, prev-next
	}
	var longest int32
	for _, p := range rules.Policies {
		longest = max(longest, p.PeriodSeconds)
	}
	cutoff := now.Add(-time.Duration(longest) * time.Second)
	slot := -1
	for i := range *events {
		if (*events)[i].at.Before(cutoff) {
			(*events)[i].outdated = true
		}
		if (*events)[i].outdated {
			slot = i
		}
	}
	e := scaleEvent{change: change, at: now}
	if slot >= 0 {
		(*events)[slot] = e
		return
	}
	*events = append(*events, e)
}
