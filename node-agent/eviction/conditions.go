package eviction

import (
	"time"

	corev1 "k8s.io/api/core/v1"
)

// Pressure says which of the node's pressure conditions hold.
type Pressure struct {
	Memory, Disk, PID bool
}

// met are the thresholds obs crosses; a signal not measured crosses none.
func met(thresholds []Threshold, obs Observations) []Threshold {
	var out []Threshold
	for _, t := range thresholds {
		o, ok := obs[t.Signal]
		if ok && o.Available < t.Value(o.Capacity) {
			out = append(out, t)
		}
	}
	return out
}

// conditions tracks when each pressure condition's threshold was last crossed: a
// condition holds until transitionPeriod has gone by since, as upstream's
// --eviction-pressure-transition-period, so that it does not flap around its threshold.
type conditions struct {
	transitionPeriod time.Duration
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
