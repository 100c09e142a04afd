package statefulset

import (
	"time"

	"k8s.io/utils/ptr"

	appsv1alpha1 "github.com/kybern/kybern/api/apps/v1alpha1"
	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
	"github.com/kybern/kybern/controllers/internal/podutil"
)

// calculateStatus is the status set should have given its pods (every ordinal's, in range
// or condemned), as upstream's updateStatus: replicas counts the pods; ready those Running
// and Ready; available those ready for minReadySeconds; current and updated those not
// being deleted that run the current and the update revision. observed says that this
// reconcile acted on set's current spec, so that observedGeneration may move to it.
//
// Once every pod runs the update revision and is ready, the rollout is complete and the
// update revision becomes current: 3 pods, all ready, 3 updated gives currentRevision =
// updateRevision and currentReplicas 3; 3 pods with 2 updated leaves currentRevision.
func calculateStatus(set *appsv1alpha1.StatefulSet, pods []*corev1alpha1.Pod, current, update string,
	collisionCount *int32, selector string, now time.Time, observed bool) appsv1alpha1.StatefulSetStatus {
	status := *set.Status.DeepCopy()
	s := &status.StatefulSetStatus
	s.Replicas, s.ReadyReplicas, s.AvailableReplicas, s.CurrentReplicas, s.UpdatedReplicas = 0, 0, 0, 0, 0
	for _, p := range pods {
		s.Replicas++
		if runningAndReady(p) {
			s.ReadyReplicas++
			if podutil.IsAvailable(p, set.Spec.MinReadySeconds, now) {
				s.AvailableReplicas++
			}
		}
		if p.DeletionTimestamp == nil {
			if p.Labels[RevisionHashLabel] == current {
				s.CurrentReplicas++
			}
			if p.Labels[RevisionHashLabel] == update {
				s.UpdatedReplicas++
			}
		}
	}
	s.CurrentRevision, s.UpdateRevision = current, update
	s.CollisionCount = ptr.To(ptr.Deref(collisionCount, 0))
	if s.UpdatedReplicas == s.Replicas && s.ReadyReplicas == s.Replicas {
		s.CurrentRevision, s.CurrentReplicas = update, s.UpdatedReplicas
	}
	if observed {
		s.ObservedGeneration = set.Generation
	}
	status.LabelSelector = selector
	return status
}

// nextCheck is when a pod that is ready becomes available, the soonest of them, for a
// reconcile with nothing else to wake it; 0 when no pod is waiting for minReadySeconds.
func nextCheck(set *appsv1alpha1.StatefulSet, pods []*corev1alpha1.Pod, now time.Time) time.Duration {
	var next time.Duration
	for _, p := range pods {
		if !runningAndReady(p) || podutil.IsAvailable(p, set.Spec.MinReadySeconds, now) {
			continue
		}
		at, ok := podutil.AvailableAt(p, set.Spec.MinReadySeconds)
		wait := time.Second
		if ok {
			wait = max(at.Sub(now), 0) + time.Second/10
		}
		if next == 0 || wait < next {
			next = wait
		}
	}
	return next
}

// soonest is the shorter of two waits, 0 standing for none.
func soonest(a, b time.Duration) time.Duration {
	if a == 0 || (b != 0 && b < a) {
		return b
	}
	return a
}
