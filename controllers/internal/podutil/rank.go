package podutil

import (
	"math"
	"sort"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
)

// PodDeletionCostAnnotation lets a user say which pods of a ReplicaSet to delete first on
// scale-down: lower cost goes first. Its value is an int32; anything else counts as 0.
const PodDeletionCostAnnotation = "controller.kubernetes.io/pod-deletion-cost"

// PodsToDelete picks n of pods to delete, those upstream prefers to lose first. related
// are the active pods of one family (a ReplicaSet and its siblings under the same
// Deployment, or a Job's pods); a pod sharing its node with more of them ranks as doubled
// up and goes first.
func PodsToDelete(pods, related []*corev1alpha1.Pod, n int, now time.Time) []*corev1alpha1.Pod {
	if n >= len(pods) {
		return pods
	}
	return RankForDeletion(pods, related, now)[:n]
}

// RankForDeletion orders a copy of pods from the first to delete to the last, as
// PodsToDelete ranks them.
func RankForDeletion(pods, related []*corev1alpha1.Pod, now time.Time) []*corev1alpha1.Pod {
	onNode := map[string]int{}
	for _, p := range related {
		if IsActive(p) {
			onNode[p.Spec.NodeName]++
		}
	}
	ranked := make([]rankedPod, len(pods))
	for i, p := range pods {
		ranked[i] = rankedPod{pod: p, colocated: onNode[p.Spec.NodeName]}
	}
	sort.SliceStable(ranked, func(i, j int) bool { return deleteFirst(ranked[i], ranked[j], now) })
	out := make([]*corev1alpha1.Pod, len(ranked))
	for i := range out {
		out[i] = ranked[i].pod
	}
	return out
}

type rankedPod struct {
	pod       *corev1alpha1.Pod
	colocated int
}

var phaseOrder = map[corev1.PodPhase]int{corev1.PodPending: 0, corev1.PodUnknown: 1, corev1.PodRunning: 2}

// deleteFirst reports whether a should be deleted before b. The rules, in order, each
// deciding only when the pods differ in it:
//  1. unscheduled before scheduled;
//  2. Pending before Unknown before Running;
//  3. not ready before ready;
//  4. lower pod-deletion-cost before higher;
//  5. more pods of the same family on its node (doubled up) before fewer;
//  6. ready for less time before ready for longer;
//  7. more container restarts before fewer;
//  8. newer before older.
//
// Rules 6 and 8 compare times on a log2 scale of their age, so that pods ready or created
// within the same power of two of each other tie, and break the tie by UID: a scale-down
// then removes a pseudo-random mix of similar pods rather than always the very newest.
func deleteFirst(a, b rankedPod, now time.Time) bool {
	pa, pb := a.pod, b.pod
	if (pa.Spec.NodeName == "") != (pb.Spec.NodeName == "") {
		return pa.Spec.NodeName == ""
	}
	if phaseOrder[pa.Status.Phase] != phaseOrder[pb.Status.Phase] {
		return phaseOrder[pa.Status.Phase] < phaseOrder[pb.Status.Phase]
	}
	if IsReady(pa) != IsReady(pb) {
		return !IsReady(pa)
	}
	if ca, cb := deletionCost(pa), deletionCost(pb); ca != cb {
		return ca < cb
	}
	if a.colocated != b.colocated {
		return a.colocated > b.colocated
	}
	if IsReady(pa) && IsReady(pb) {
		ra, rb := ReadyTime(pa), ReadyTime(pb)
		if !ra.Equal(&rb) {
			return newerOnLogScale(ra, rb, pa, pb, now)
		}
	}
	if ra, rb := MaxRestarts(pa), MaxRestarts(pb); ra != rb {
		return ra > rb
	}
	if !pa.CreationTimestamp.Equal(&pb.CreationTimestamp) {
		return newerOnLogScale(pa.CreationTimestamp, pb.CreationTimestamp, pa, pb, now)
	}
	return false
}

// newerOnLogScale reports whether ta is newer than tb when ages are bucketed by their
// log2, breaking ties by UID. A zero time counts as newest.
func newerOnLogScale(ta, tb metav1.Time, pa, pb *corev1alpha1.Pod, now time.Time) bool {
	if ta.IsZero() || tb.IsZero() {
		return ta.IsZero()
	}
	if da, db := logAge(ta.Time, now), logAge(tb.Time, now); da != db {
		return da < db
	}
	return pa.UID < pb.UID
}

// logAge is the floor of log2 of t's age in nanoseconds, or -1 for a time not in the past.
func logAge(t, now time.Time) int64 {
	age := now.Sub(t)
	if age <= 0 {
		return -1
	}
	return int64(math.Log2(float64(age)))
}

func deletionCost(p *corev1alpha1.Pod) int32 {
	v, ok := p.Annotations[PodDeletionCostAnnotation]
	if !ok {
		return 0
	}
	cost, err := strconv.ParseInt(v, 10, 32)
	if err != nil {
		return 0
	}
	return int32(cost)
}
