// Package eviction is the node agent's node-pressure eviction, as upstream's kubelet
// pkg/kubelet/eviction: it measures the node's eviction signals against the hard and soft
// eviction thresholds (--eviction-hard, --eviction-soft), reports the pressure conditions
// they make, deletes unused images under disk pressure, evicts one pod a round while a
// threshold counts, and evicts pods over their ephemeral-storage limits. It also computes
// the node's allocatable, which the hard thresholds take from.
package eviction

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

// Signal is an eviction signal, as upstream names it.
type Signal string

// The signals the agent measures.
const (
	MemoryAvailable   Signal = "memory.available"
	NodeFsAvailable   Signal = "nodefs.available"
	NodeFsInodesFree  Signal = "nodefs.inodesFree"
	ImageFsAvailable  Signal = "imagefs.available"
	ImageFsInodesFree Signal = "imagefs.inodesFree"
	PIDAvailable      Signal = "pid.available"
)

// signals are the signals a threshold may name, with the node condition it makes and the
// resource whose pods' usage ranks them for eviction.
var signals = map[Signal]struct {
	condition corev1.NodeConditionType
	resource  corev1.ResourceName
}{
	MemoryAvailable:   {corev1.NodeMemoryPressure, corev1.ResourceMemory},
	NodeFsAvailable:   {corev1.NodeDiskPressure, corev1.ResourceEphemeralStorage},
	NodeFsInodesFree:  {corev1.NodeDiskPressure, resourceInodes},
	ImageFsAvailable:  {corev1.NodeDiskPressure, corev1.ResourceEphemeralStorage},
	ImageFsInodesFree: {corev1.NodeDiskPressure, resourceInodes},
	PIDAvailable:      {corev1.NodePIDPressure, resourcePIDs},
}

// Resources that only rank pods; no pod requests them.
const (
	resourceInodes corev1.ResourceName = "inodes"
	resourcePIDs   corev1.ResourceName = "pids"
)

// DefaultHard is upstream's kubelet's default --eviction-hard on Linux. Upstream sets no
// pid.available threshold by default; one may be given.
const DefaultHard = "memory.available<100Mi,nodefs.available<10%,nodefs.inodesFree<5%,imagefs.available<15%,imagefs.inodesFree<5%"

// Amount is a quantity, or, when Quantity is nil, a Percentage (0 to 1) of a signal's
// capacity.
type Amount struct {
	Quantity   *resource.Quantity
	Percentage float64
}

// Value is the amount for a signal whose capacity is capacity.
func (a Amount) Value(capacity int64) int64 {
	if a.Quantity != nil {
		return a.Quantity.Value()
	}
	return int64(float64(capacity) * a.Percentage)
}

// String is the amount as the flags state it: 100Mi or 10%.
func (a Amount) String() string {
	if a.Quantity != nil {
		return a.Quantity.String()
	}
	return strconv.FormatFloat(a.Percentage*100, 'f', -1, 64) + "%"
}

// Threshold is crossed when its signal's available amount is less than its Amount. A
// hard threshold (GracePeriod 0, --eviction-hard) counts at once; a soft one
// (--eviction-soft) once it has been crossed for GracePeriod. Once a threshold counted,
// it goes on counting until the signal is back above the Amount plus MinReclaim
// (--eviction-minimum-reclaim), as upstream's.
type Threshold struct {
	Signal Signal
	Amount
	GracePeriod time.Duration
	MinReclaim  *Amount
}

// hard is upstream's isHardEvictionThreshold.
func (t Threshold) hard() bool { return t.GracePeriod == 0 }

// String is the threshold as --eviction-hard and --eviction-soft state it.
func (t Threshold) String() string {
	return fmt.Sprintf("%s<%s", t.Signal, t.Amount.String())
}

// ParseThresholds reads upstream's --eviction-hard syntax: comma-separated
// signal<quantity or signal<percentage%, such as "memory.available<100Mi,nodefs.available<10%".
// A threshold of 0 or 0% turns its signal off, as upstream. flag names the flag in errors;
// --eviction-soft has the same syntax.
// The thresholds come back sorted by signal.
func ParseThresholds(flag, s string) ([]Threshold, error) {
	var out []Threshold
	seen := map[Signal]bool{}
	for stmt := range strings.SplitSeq(s, ",") {
		stmt = strings.TrimSpace(stmt)
		if stmt == "" {
			continue
		}
		name, value, ok := strings.Cut(stmt, "<")
		if !ok {
			return nil, fmt.Errorf("--%s: %q is no threshold: write signal<quantity or signal<percentage%%, such as memory.available<100Mi", flag, stmt)
		}
		sig := Signal(strings.TrimSpace(name))
		if _, known := signals[sig]; !known {
			return nil, fmt.Errorf("--%s: %q: unsupported eviction signal %q; the signals are %s", flag, stmt, sig, knownSignals())
		}
		if seen[sig] {
			return nil, fmt.Errorf("--%s: duplicate threshold for signal %s: give each signal once", flag, sig)
		}
		seen[sig] = true
		t := Threshold{Signal: sig}
		value = strings.TrimSpace(value)
		if pct, isPct := strings.CutSuffix(value, "%"); isPct {
			p, err := strconv.ParseFloat(pct, 64)
			if err != nil || p < 0 || p > 100 {
				return nil, fmt.Errorf("--%s: %q: the percentage must be a number from 0%% to 100%%", flag, stmt)
			}
			if p == 0 {
				continue
			}
			t.Percentage = p / 100
		} else {
			q, err := resource.ParseQuantity(value)
			if err != nil {
				return nil, fmt.Errorf("--%s: %q: %q is neither a quantity (100Mi) nor a percentage (10%%)", flag, stmt, value)
			}
			if q.Sign() < 0 {
				return nil, fmt.Errorf("--%s: %q: the threshold must not be negative", flag, stmt)
			}
			if q.IsZero() {
				continue
			}
			t.Quantity = &q
		}
		out = append(out, t)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Signal < out[j].Signal })
	return out, nil
}

func knownSignals() string {
	names := make([]string, 0, len(signals))
	for s := range signals {
		names = append(names, string(s))
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

// ResourcePID is the process IDs --system-reserved and --kube-reserved may reserve, as
// upstream's kubelet names them; a node's capacity does not list it.
const ResourcePID corev1.ResourceName = "pid"

// reservable are the resources --system-reserved and --kube-reserved may name.
var reservable = map[corev1.ResourceName]bool{corev1.ResourceCPU: true, corev1.ResourceMemory: true,
	corev1.ResourceEphemeralStorage: true, ResourcePID: true}

// ParseReserved reads upstream's --system-reserved / --kube-reserved syntax:
// comma-separated resource=quantity of cpu, memory, ephemeral-storage and pid, such as
// "cpu=100m,memory=100Mi,ephemeral-storage=1Gi,pid=1000". flag names the flag in errors.
func ParseReserved(flag, s string) (corev1.ResourceList, error) {
	out := corev1.ResourceList{}
	for pair := range strings.SplitSeq(s, ",") {
		pair = strings.TrimSpace(pair)
		if pair == "" {
			continue
		}
		name, value, ok := strings.Cut(pair, "=")
		rn := corev1.ResourceName(strings.TrimSpace(name))
		if !ok {
			return nil, fmt.Errorf("--%s: %q: write resource=quantity, such as cpu=100m,memory=100Mi", flag, pair)
		}
		if !reservable[rn] {
			return nil, fmt.Errorf("--%s: %q: only cpu, memory, ephemeral-storage and pid may be reserved", flag, pair)
		}
		if _, dup := out[rn]; dup {
			return nil, fmt.Errorf("--%s: %s is reserved twice: give each resource once", flag, rn)
		}
		q, err := resource.ParseQuantity(strings.TrimSpace(value))
		if err != nil {
			return nil, fmt.Errorf("--%s: %q: %q is no quantity (such as 100Mi)", flag, pair, value)
		}
		if q.Sign() < 0 {
			return nil, fmt.Errorf("--%s: %q: the quantity for %s must not be negative", flag, pair, rn)
		}
		out[rn] = q
	}
	return out, nil
}

// Allocatable is what pods of the node may use, as upstream's container manager computes
// it: each resource of capacity less what systemReserved and kubeReserved reserve of it,
// and, for memory and ephemeral-storage, less the hard eviction threshold of
// memory.available and nodefs.available (of --eviction-hard alone, as upstream); never
// below zero.
func Allocatable(capacity, systemReserved, kubeReserved corev1.ResourceList, hard []Threshold) corev1.ResourceList {
	out := corev1.ResourceList{}
	for name, c := range capacity {
		v := c.DeepCopy()
		for _, r := range []corev1.ResourceList{systemReserved, kubeReserved} {
			if q, ok := r[name]; ok {
				v.Sub(q)
			}
		}
		for _, t := range hard {
			if (name == corev1.ResourceMemory && t.Signal == MemoryAvailable) || (name == corev1.ResourceEphemeralStorage && t.Signal == NodeFsAvailable) {
				v.Sub(*resource.NewQuantity(t.Value(c.Value()), resource.BinarySI))
			}
		}
		if v.Sign() < 0 {
			v = *resource.NewQuantity(0, c.Format)
		}
		out[name] = v
	}
	return out
}
