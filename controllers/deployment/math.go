package deployment

import (
	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/integer"
	"k8s.io/utils/ptr"

	appsv1alpha1 "github.com/kybern/kybern/api/apps/v1alpha1"
)

// replicasOf is a Deployment's spec.replicas, 1 when unset.
func replicasOf(d *appsv1alpha1.Deployment) int32 { return ptr.Deref(d.Spec.Replicas, 1) }

// rsReplicas is a ReplicaSet's spec.replicas, 1 when unset.
func rsReplicas(rs *appsv1alpha1.ReplicaSet) int32 { return ptr.Deref(rs.Spec.Replicas, 1) }

// isRollingUpdate reports whether d rolls out gradually; unset means RollingUpdate.
func isRollingUpdate(d *appsv1alpha1.Deployment) bool {
	return d.Spec.Strategy.Type != appsv1.RecreateDeploymentStrategyType
}

// surgeAndUnavailable resolves maxSurge and maxUnavailable against spec.replicas: surge
// rounds up, unavailable rounds down, and if both come to 0 unavailable becomes 1, since a
// rollout that may neither add nor remove a pod could never progress.
//
// For 10 replicas with 25% / 25%: surge ⌈2.5⌉ = 3, unavailable ⌊2.5⌋ = 2. For 1 replica
// with 25% / 25%: surge ⌈0.25⌉ = 1, unavailable ⌊0.25⌋ = 0. A missing rollingUpdate counts
// as 25% / 25%, and a Recreate deployment has neither.
func surgeAndUnavailable(d *appsv1alpha1.Deployment) (surge, unavailable int32) {
	if !isRollingUpdate(d) {
		return 0, 0
	}
	quarter := intstr.FromString("25%")
	maxSurge, maxUnavailable := &quarter, &quarter
	if ru := d.Spec.Strategy.RollingUpdate; ru != nil {
		if ru.MaxSurge != nil {
			maxSurge = ru.MaxSurge
		}
		if ru.MaxUnavailable != nil {
			maxUnavailable = ru.MaxUnavailable
		}
	}
	desired := int(replicasOf(d))
	// The CRD's schema admits only ints and strings; a malformed percentage counts as 0.
	s, _ := intstr.GetScaledValueFromIntOrPercent(maxSurge, desired, true)
	u, _ := intstr.GetScaledValueFromIntOrPercent(maxUnavailable, desired, false)
	if s == 0 && u == 0 {
		u = 1
	}
	return int32(s), int32(u)
}

// maxUnavailable is the resolved maxUnavailable, never more than spec.replicas.
func maxUnavailable(d *appsv1alpha1.Deployment) int32 {
	_, u := surgeAndUnavailable(d)
	if !isRollingUpdate(d) || replicasOf(d) == 0 {
		return 0
	}
	return min(u, replicasOf(d))
}

// maxSurge is the resolved maxSurge of a rolling update, 0 for Recreate.
func maxSurge(d *appsv1alpha1.Deployment) int32 {
	s, _ := surgeAndUnavailable(d)
	return s
}

// podsBound is how many pods a ReplicaSet may have right now: its spec.replicas, or more
// while it has not yet deleted the pods of a scale-down.
func podsBound(rs *appsv1alpha1.ReplicaSet) int32 { return max(rsReplicas(rs), rs.Status.Replicas) }

// availableBound is how many available pods a ReplicaSet can be counted on for: its
// reported available pods, but no more than spec.replicas, since a scale-down its status
// does not show yet will remove the surplus.
func availableBound(rs *appsv1alpha1.ReplicaSet) int32 {
	return min(rs.Status.AvailableReplicas, rsReplicas(rs))
}

// newRSReplicas is how far a rolling update may grow the new ReplicaSet now: up to
// spec.replicas + maxSurge pods in all, and no further than spec.replicas.
//
// Example: 10 replicas, maxSurge 3, old ReplicaSets at 8 pods and the new one at 3: the
// total may reach 13, so the new one grows by 13 − 11 = 2, to 5.
func newRSReplicas(d *appsv1alpha1.Deployment, all []*appsv1alpha1.ReplicaSet, newRS *appsv1alpha1.ReplicaSet) int32 {
	if !isRollingUpdate(d) {
		return replicasOf(d)
	}
	var current int32
	for _, rs := range all {
		current += podsBound(rs)
	}
	maxTotal := replicasOf(d) + maxSurge(d)
	if current >= maxTotal {
		return rsReplicas(newRS)
	}
	grow := min(maxTotal-current, replicasOf(d)-rsReplicas(newRS))
	return rsReplicas(newRS) + max(grow, 0)
}

// proportion is how many replicas rs gains (or, when toAdd is negative, loses) when the
// Deployment's size changes mid-rollout by toAdd, of which added are already given out:
// rs's share of the new size in proportion to its share of the size it was scaled for
// (the max-replicas annotation), bounded by what is left to give.
//
// Example: a rollout of 10 replicas with maxSurge 3 (13 allowed) has the old ReplicaSet at
// 8 and the new one at 5 when the user scales to 20 (23 allowed, +10 to give out). The old
// one gets round(8 × 23 / 13) − 8 = 6, the new one round(5 × 23 / 13) − 5 = 4.
func proportion(rs *appsv1alpha1.ReplicaSet, d *appsv1alpha1.Deployment, toAdd, added int32) int32 {
	if rs == nil || rsReplicas(rs) == 0 || toAdd == 0 || toAdd == added {
		return 0
	}
	fraction := replicaSetFraction(rs, d)
	allowed := toAdd - added
	if toAdd > 0 {
		return min(fraction, allowed)
	}
	return max(fraction, allowed)
}

func replicaSetFraction(rs *appsv1alpha1.ReplicaSet, d *appsv1alpha1.Deployment) int32 {
	if replicasOf(d) == 0 {
		return -rsReplicas(rs)
	}
	target := replicasOf(d) + maxSurge(d)
	annotated, ok := intAnnotation(rs, MaxReplicasAnnotation)
	if !ok || annotated == 0 {
		annotated = d.Status.Replicas
	}
	if annotated == 0 {
		return 0
	}
	return integer.RoundToInt32(float64(rsReplicas(rs))*float64(target)/float64(annotated)) - rsReplicas(rs)
}
