package eviction

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"
)

// Combine combines the thresholds as upstream's kubelet reads its flags: hard are those of
// --eviction-hard, soft those of --eviction-soft, each of which takes its grace period from
// gracePeriods (--eviction-soft-grace-period: signal=duration, comma-separated, such as
// "memory.available=1m30s"); minReclaims (--eviction-minimum-reclaim: signal=quantity or
// signal=percentage%, such as "nodefs.available=500Mi") sets the minimum reclaim of every
// threshold, hard or soft, of its signal. A soft threshold without a grace period is an
// error; a grace period or minimum reclaim for a signal without a threshold is allowed
// and does nothing, as upstream.
func Combine(hard, soft []Threshold, gracePeriods, minReclaims string) ([]Threshold, error) {
	grace, err := parseGracePeriods(gracePeriods)
	if err != nil {
		return nil, err
	}
	reclaim, err := parseMinimumReclaims(minReclaims)
	if err != nil {
		return nil, err
	}
	out := make([]Threshold, 0, len(hard)+len(soft))
	out = append(out, hard...)
	for _, t := range soft {
		g, ok := grace[t.Signal]
		if !ok {
			return nil, fmt.Errorf("--eviction-soft: the soft threshold %s has no grace period: give %s one in --eviction-soft-grace-period, such as %s=1m30s", t, t.Signal, t.Signal)
		}
		t.GracePeriod = g
		out = append(out, t)
	}
	for i := range out {
		if r, ok := reclaim[out[i].Signal]; ok {
			out[i].MinReclaim = &r
		}
	}
	return out, nil
}

const (
	graceFlag   = "eviction-soft-grace-period"
	reclaimFlag = "eviction-minimum-reclaim"
)

// statements splits s, comma-separated signal=value, checking each signal is known and given
// once.
func statements(flag, s, example string) (map[Signal]string, error) {
	out := map[Signal]string{}
	for stmt := range strings.SplitSeq(s, ",") {
		stmt = strings.TrimSpace(stmt)
		if stmt == "" {
			continue
		}
		name, value, ok := strings.Cut(stmt, "=")
		if !ok {
			return nil, fmt.Errorf("--%s: %q: write signal=value, such as %s", flag, stmt, example)
		}
		sig := Signal(strings.TrimSpace(name))
		if _, known := signals[sig]; !known {
			return nil, fmt.Errorf("--%s: %q: unsupported eviction signal %q; the signals are %s", flag, stmt, sig, knownSignals())
		}
		if _, dup := out[sig]; dup {
			return nil, fmt.Errorf("--%s: %s is given twice: give each signal once", flag, sig)
		}
		out[sig] = strings.TrimSpace(value)
	}
	return out, nil
}

func parseGracePeriods(s string) (map[Signal]time.Duration, error) {
	stmts, err := statements(graceFlag, s, "memory.available=1m30s")
	if err != nil {
		return nil, err
	}
	out := map[Signal]time.Duration{}
	for sig, v := range stmts {
		d, err := time.ParseDuration(v)
		if err != nil {
			return nil, fmt.Errorf("--%s: %s=%s: %q is no duration (such as 1m30s)", graceFlag, sig, v, v)
		}
		if d < 0 {
			return nil, fmt.Errorf("--%s: %s=%s: the grace period must not be negative", graceFlag, sig, v)
		}
		out[sig] = d
	}
	return out, nil
}

func parseMinimumReclaims(s string) (map[Signal]Amount, error) {
	stmts, err := statements(reclaimFlag, s, "nodefs.available=500Mi")
	if err != nil {
		return nil, err
	}
	out := map[Signal]Amount{}
	for sig, v := range stmts {
		if pct, isPct := strings.CutSuffix(v, "%"); isPct {
			p, err := strconv.ParseFloat(pct, 64)
			if err != nil || p <= 0 || p > 100 {
				return nil, fmt.Errorf("--%s: %s=%s: a percentage must be more than 0%% and at most 100%%", reclaimFlag, sig, v)
			}
			out[sig] = Amount{Percentage: p / 100}
			continue
		}
		q, err := resource.ParseQuantity(v)
		if err != nil {
			return nil, fmt.Errorf("--%s: %s=%s: %q is neither a quantity (500Mi) nor a percentage (5%%)", reclaimFlag, sig, v, v)
		}
		if q.Sign() < 0 {
			return nil, fmt.Errorf("--%s: %s=%s: the minimum reclaim must not be negative", reclaimFlag, sig, v)
		}
		out[sig] = Amount{Quantity: &q}
	}
	return out, nil
}
