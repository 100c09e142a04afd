package statefulset

import (
	"fmt"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	appsv1alpha1 "github.com/kybern/kybern/api/apps/v1alpha1"
	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
	"github.com/kybern/kybern/controllers/internal/podutil"
)

// Event reasons of the deletions that replace a pod.
const (
	ReasonRecreatingFailedPod    = "RecreatingFailedPod"
	ReasonRecreatingUnhealthyPod = "RecreatingUnhealthyPod"
)

// observed is what one reconcile knows of a StatefulSet.
type observed struct {
	set *appsv1alpha1.StatefulSet
	// replicas holds the pod of each ordinal in range, at index ordinal-start; nil where
	// there is none.
	replicas []*corev1alpha1.Pod
	// condemned are the pods of ordinals out of range, highest ordinal first.
	condemned []*corev1alpha1.Pod
	claims    map[string]*corev1.PersistentVolumeClaim
	// update is the name of the revision the pods from the partition on are rolled to:
	// that of the set's template, or the stable revision while a rollback holds (see
	// planRollback); current that of the revision the set ran before its rollout began.
	update, current string
	now             time.Time
}

type actionKind int

const (
	createPod actionKind = iota
	deletePod
	// updatePod gives a pod the identity and storage of its ordinal.
	updatePod
	// fixClaims gives a pod's claims the owners the retention policy wants.
	fixClaims
)

// action is one write to one ordinal.
type action struct {
	kind    actionKind
	ordinal int
	// pod is the existing pod, nil for createPod.
	pod *corev1alpha1.Pod
	// reason is the event reason of a deletion that replaces a pod; "" for none.
	reason string
}

// plan is the writes of one reconcile, in stages: a stage runs once the one before it
// succeeded, its actions one after another under OrderedReady, at once under Parallel.
type plan struct {
	stages [][]action
	// waiting says what an OrderedReady plan stopped at; "" when it got through.
	waiting string
}

func (pl *plan) add(stage []action) {
	if len(stage) > 0 {
		pl.stages = append(pl.stages, stage)
	}
}

// monotonic reports whether set creates, deletes and replaces one pod at a time, in
// ordinal order, each waiting for those before it.
func monotonic(set *appsv1alpha1.StatefulSet) bool {
	return set.Spec.PodManagementPolicy != appsv1.ParallelPodManagement
}

// planSync plans one round of writes, as upstream's updateStatefulSet:
//  1. the ordinals in range, lowest first: create a missing pod, replace a failed one,
//     fix identity, storage and claim owners;
//  2. fix the claim owners of condemned pods, so that whenScaled Delete takes their claims;
//  3. delete condemned pods, highest ordinal first;
//  4. under RollingUpdate, delete pods of older revisions (rollingDeletions).
//
// Under OrderedReady the plan stops at the first pod that is missing, failed, being
// deleted, or not Running, Ready and available: the pods after it wait. Under Parallel
// every stage is planned at once.
func planSync(o *observed) plan {
	var pl plan
	mono := monotonic(o.set)
	var stage []action
	for i, p := range o.replicas {
		acts, wait := replicaActions(o, startOrdinal(o.set)+i, p, mono)
		stage = append(stage, acts...)
		if mono && wait != "" {
			pl.add(stage)
			pl.waiting = wait
			return pl
		}
	}
	pl.add(stage)

	stage = nil
	for _, p := range o.condemned {
		ord, _ := ordinalOf(o.set.Name, p.Name)
		if !claimsMatch(o.set, p, ord, o.claims) {
			stage = append(stage, action{kind: fixClaims, ordinal: ord, pod: p})
		}
	}
	pl.add(stage)

	stage = nil
	for _, p := range o.condemned {
		ord, _ := ordinalOf(o.set.Name, p.Name)
		if p.DeletionTimestamp == nil {
			stage = append(stage, action{kind: deletePod, ordinal: ord, pod: p})
		}
		if mono {
			pl.add(stage)
			pl.waiting = fmt.Sprintf("condemned pod %s to terminate", p.Name)
			return pl
		}
	}
	pl.add(stage)
	pl.add(rollingDeletions(o))
	return pl
}

// replicaActions are the writes for the ordinal in range ord, whose pod is p; wait, when
// not "", says that p is not settled: under OrderedReady nothing after it may happen.
// Parallel sets never wait for readiness.
func replicaActions(o *observed, ord int, p *corev1alpha1.Pod, mono bool) ([]action, string) {
	set := o.set
	switch {
	case p == nil:
		if stale := staleClaim(set, ord, o.claims); stale != "" {
			return nil, fmt.Sprintf("claim %s to be deleted before pod %s is created", stale, podName(set, ord))
		}
		return []action{{kind: createPod, ordinal: ord}}, fmt.Sprintf("pod %s to be created", podName(set, ord))
	case p.Status.Phase == corev1.PodFailed || p.Status.Phase == corev1.PodSucceeded:
		// A pod that terminated is replaced whatever its exit: it holds the ordinal's name.
		if p.DeletionTimestamp != nil {
			return nil, fmt.Sprintf("terminated pod %s to be gone", p.Name)
		}
		return []action{{kind: deletePod, ordinal: ord, pod: p, reason: ReasonRecreatingFailedPod}}, fmt.Sprintf("failed pod %s to be replaced", p.Name)
	case p.DeletionTimestamp != nil:
		return nil, fmt.Sprintf("pod %s to terminate", p.Name)
	case mono && !runningAndReady(p):
		if stuckOnOldRevision(o, ord, p) {
			return []action{{kind: deletePod, ordinal: ord, pod: p, reason: ReasonRecreatingUnhealthyPod}},
				fmt.Sprintf("unhealthy pod %s of an old revision to be replaced", p.Name)
		}
		return nil, fmt.Sprintf("pod %s to be Running and Ready", p.Name)
	case mono && !podutil.IsAvailable(p, set.Spec.MinReadySeconds, o.now):
		return nil, fmt.Sprintf("pod %s to be available", p.Name)
	}
	var acts []action
	if !identityMatches(set, p, ord) || !storageMatches(set, p, ord) {
		acts = append(acts, action{kind: updatePod, ordinal: ord, pod: p})
	}
	if !claimsMatch(set, p, ord, o.claims) {
		acts = append(acts, action{kind: fixClaims, ordinal: ord, pod: p})
	}
	return acts, ""
}

// stuckOnOldRevision reports whether the pod p of ordinal ord, which is not Running and
// Ready, would hold an OrderedReady RollingUpdate forever (upstream issue 67250): it runs
// a revision other than the update revision in the rollout's range, so the rollout would
// replace it anyway, but only once it became ready, which a broken template never does.
// Replacing it now lets a fixed or reverted template recover the set.
func stuckOnOldRevision(o *observed, ord int, p *corev1alpha1.Pod) bool {
	return rollingUpdate(o.set) && ord-startOrdinal(o.set) >= partition(o.set) && p.Labels[RevisionHashLabel] != o.update
}

// rollingDeletions are the pods a RollingUpdate deletes now, for the stages before it to
// recreate at the update revision: pods of other revisions whose ordinal index is at least
// the partition, highest first. A pod that is unavailable anyway is replaced at once; an
// available one only while fewer than maxUnavailable pods in range are unavailable, a
// missing pod counting as unavailable.
//
// With 5 replicas, partition 1, maxUnavailable 2 and all available on the old revision,
// ordinals 4 and 3 go now; 2 and 1 once 4 and 3 are back and available; 0 stays.
func rollingDeletions(o *observed) []action {
	if !rollingUpdate(o.set) {
		return nil
	}
	budget := maxUnavailable(o.set)
	unavailable := 0
	for _, p := range o.replicas {
		if isUnavailable(p, o.set.Spec.MinReadySeconds, o.now) {
			unavailable++
		}
	}
	var out []action
	for i := len(o.replicas) - 1; i >= partition(o.set); i-- {
		p := o.replicas[i]
		if p == nil || p.DeletionTimestamp != nil || p.Labels[RevisionHashLabel] == o.update {
			continue
		}
		switch {
		case isUnavailable(p, o.set.Spec.MinReadySeconds, o.now):
		case unavailable < budget:
			unavailable++
		default:
			continue
		}
		out = append(out, action{kind: deletePod, ordinal: startOrdinal(o.set) + i, pod: p})
	}
	return out
}

// wantsUpdate reports whether a new pod at ordinal index i is made from the update
// revision: under RollingUpdate, indexes below the partition keep the current revision.
func wantsUpdate(set *appsv1alpha1.StatefulSet, i int) bool {
	return !rollingUpdate(set) || i >= partition(set)
}

func rollingUpdate(set *appsv1alpha1.StatefulSet) bool {
	return set.Spec.UpdateStrategy.Type != appsv1.OnDeleteStatefulSetStrategyType
}

// partition is the lowest ordinal index a RollingUpdate replaces; it counts from
// ordinals.start, as upstream's, so with start 3 and partition 1 ordinals 4 and up roll.
func partition(set *appsv1alpha1.StatefulSet) int {
	if ru := set.Spec.UpdateStrategy.RollingUpdate; ru != nil {
		return int(ptr.Deref(ru.Partition, 0))
	}
	return 0
}

// maxUnavailable resolves rollingUpdate.maxUnavailable against replicas, a percentage
// rounding up (30% of 5 is 2), at least 1 and 1 when unset, as upstream.
func maxUnavailable(set *appsv1alpha1.StatefulSet) int {
	ru := set.Spec.UpdateStrategy.RollingUpdate
	if ru == nil || ru.MaxUnavailable == nil {
		return 1
	}
	n, err := intstr.GetScaledValueFromIntOrPercent(ru.MaxUnavailable, replicas(set), true)
	if err != nil || n < 1 {
		return 1
	}
	return n
}

func runningAndReady(p *corev1alpha1.Pod) bool {
	return p.Status.Phase == corev1.PodRunning && podutil.IsReady(p)
}

// isUnavailable reports whether an ordinal's pod p fails to serve: missing, being deleted,
// or not Running and available.
func isUnavailable(p *corev1alpha1.Pod, minReadySeconds int32, now time.Time) bool {
	return p == nil || p.DeletionTimestamp != nil || p.Status.Phase != corev1.PodRunning ||
		!podutil.IsAvailable(p, minReadySeconds, now)
}
