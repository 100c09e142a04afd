package daemonset

import (
	"slices"
	"time"

	appsv1alpha1 "github.com/kybern/kybern/api/apps/v1alpha1"
	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
	"github.com/kybern/kybern/controllers/internal/podutil"
)

// calculateStatus is the status ds should have given how each node fits it and its pods
// by target node, as upstream's updateDaemonSetStatus. On a node with several pods the
// one kept first (bound, oldest) speaks for the node. observed says that this reconcile
// acted on ds's current spec, so that observedGeneration may move to it; a reconcile
// still waiting for its earlier writes to show leaves it.
//
// With 4 nodes of which 3 fit, pods on all 4, 2 of them ready for longer than
// minReadySeconds and 1 just ready: desired 3, current 3, misscheduled 1, ready 3,
// available 2, unavailable 1.
func calculateStatus(ds *appsv1alpha1.DaemonSet, fits []fit, byNode map[string][]*corev1alpha1.Pod, hash string, now time.Time, observed bool) appsv1alpha1.DaemonSetStatus {
	status := *ds.Status.DeepCopy()
	var desired, current, misscheduled, ready, available, updated int32
	for _, f := range fits {
		pods := byNode[f.node]
		if !f.run {
			if len(pods) > 0 {
				misscheduled++
			}
			continue
		}
		desired++
		if len(pods) == 0 {
			continue
		}
		current++
		p := slices.MinFunc(pods, func(a, b *corev1alpha1.Pod) int {
			if keepFirst(a, b) {
				return -1
			}
			return 1
		})
		if podutil.IsReady(p) {
			ready++
			if podutil.IsAvailable(p, ds.Spec.MinReadySeconds, now) {
				available++
			}
		}
		if isUpdated(ds, p, hash) {
			updated++
		}
	}
	status.DesiredNumberScheduled = desired
	status.CurrentNumberScheduled = current
	status.NumberMisscheduled = misscheduled
	status.NumberReady = ready
	status.NumberAvailable = available
	status.NumberUnavailable = desired - available
	status.UpdatedNumberScheduled = updated
	if observed {
		status.ObservedGeneration = ds.Generation
	}
	return status
}
