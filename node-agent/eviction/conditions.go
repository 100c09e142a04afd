package eviction

import (
	"time"

	corev1 "k8s.io/api/core/v1"
)

// Pressure says which of the node's pressure conditions hold.
type Pressure struct {
	Memory, Disk, PID bool
}

// met are the thresholds obs crosses; a signal not measured crosses none. With
// withMinReclaim, a threshold is crossed until its signal is MinReclaim above it.
func met(thresholds []Threshold, obs Observations, withMinReclaim bool) []Threshold {
	var out []Threshold
	for _, t := range thresholds {
		o, ok := obs[t.Signal]
		if !ok {
			continue
		}
		limit := t.Value(o.Capacity)
		if withMinReclaim && t.MinReclaim != nil {
			limit += t.MinReclaim.Value(o.Capacity)
		}
		if o.Available < limit {
			out = append(out, t)
		}
	}
	return out
}

// key tells a signal's hard and soft thresholds apart: a signal has at most one of each.
type key struct {
	signal Signal
	soft   bool
}

func (t Threshold) key() key { return key{t.Signal, !t.hard()} }

// merge is a and those of b a does not hold.
func merge(a, b []Threshold) []Threshold {
	have := map[key]bool{}
	for _, t := range a {
		have[t.key()] = true
	}
	out := append([]Threshold(nil), a...)
	for _, t := range b {
		if !have[t.key()] {
			out = append(out, t)
		}
	}
	return out
}

// firstObserved is when each threshold of crossed was first crossed, keeping the times of
// before that are still crossed; a threshold no longer crossed is forgotten.
func firstObserved(crossed []Threshold, before map[key]time.Time, now time.Time) map[key]time.Time {
	out := map[key]time.Time{}
	for _, t := range crossed {
		if at, ok := before[t.key()]; ok {
			out[t.key()] = at
		} else {
			out[t.key()] = now
		}
	}
	return out
}

// pastGracePeriod are the thresholds of crossed that have been crossed for their grace
// period by now: hard ones at once.
func pastGracePeriod(crossed []Threshold, since map[key]time.Time, now time.Time) []Threshold {
	var out []Threshold
	for _, t := range crossed {
		if now.Sub(since[t.key()]) >= t.GracePeriod {
			out = append(out, t)
		}
	}
	return out
}

// conditions tracks when each pressure condition's threshold was last crossed: a
// condition holds until transitionPeriod has gone by since, as upstream's
// --eviction-pressure-transition-period, so that it does not flap around its threshold.
type conditions struct {
	transitionPeriod time.Duration // set once, when the manager is made
	lastObserved     map[corev1.NodeConditionType]time.Time
}

// observe records the thresholds crossed at now and returns the pressure that holds: a
// threshold crossed now, or less than transitionPeriod ago.
func (c *conditions) observe(crossed []Threshold, now time.Time) Pressure {
	if c.lastObserved == nil {
		c.lastObserved = map[corev1.NodeConditionType]time.Time{}
	}
	for _, t := range crossed {
		c.lastObserved[signals[t.Signal].condition] = now
	}
	holds := func(cond corev1.NodeConditionType) bool {
		at, ok := c.lastObserved[cond]
		return ok && (at.Equal(now) || now.Sub(at) < c.transitionPeriod)
	}
	return Pressure{Memory: holds(corev1.NodeMemoryPressure), Disk: holds(corev1.NodeDiskPressure), PID: holds(corev1.NodePIDPressure)}
}
