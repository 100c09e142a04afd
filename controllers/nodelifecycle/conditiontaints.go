package nodelifecycle

import (
	"context"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
)

// conditionTaints are the taints upstream's node lifecycle controller keeps by condition:
// each is on the node while its condition has the status named. The NoSchedule ones are
// TaintNodesByCondition's, so that nothing new lands on a node that is not ready or under
// pressure; not-ready's NoExecute one evicts the pods that do not tolerate it (noexecute.go).
// Ready=Unknown's unreachable taints are markUnreachable's.
var conditionTaints = []struct {
	taint     corev1.Taint
	condition corev1.NodeConditionType
	status    corev1.ConditionStatus
}{
	{corev1.Taint{Key: corev1.TaintNodeNotReady, Effect: corev1.TaintEffectNoSchedule}, corev1.NodeReady, corev1.ConditionFalse},
	{corev1.Taint{Key: corev1.TaintNodeNotReady, Effect: corev1.TaintEffectNoExecute}, corev1.NodeReady, corev1.ConditionFalse},
	{corev1.Taint{Key: corev1.TaintNodeMemoryPressure, Effect: corev1.TaintEffectNoSchedule}, corev1.NodeMemoryPressure, corev1.ConditionTrue},
	{corev1.Taint{Key: corev1.TaintNodeDiskPressure, Effect: corev1.TaintEffectNoSchedule}, corev1.NodeDiskPressure, corev1.ConditionTrue},
	{corev1.Taint{Key: corev1.TaintNodePIDPressure, Effect: corev1.TaintEffectNoSchedule}, corev1.NodePIDPressure, corev1.ConditionTrue},
}

// taintID names a taint on a node, where a key may be there once per effect.
type taintID struct {
	key    string
	effect corev1.TaintEffect
}

// syncConditionTaints adds the taint of each condition the node reports, a NoExecute
// one with timeAdded now, and removes those of conditions it no longer reports.
func (r *Reconciler) syncConditionTaints(ctx context.Context, node *corev1alpha1.Node, now time.Time) error {
	status := map[corev1.NodeConditionType]corev1.ConditionStatus{}
	for _, c := range node.Status.Conditions {
		status[c.Type] = c.Status
	}
	want := map[taintID]bool{}
	for _, ct := range conditionTaints {
		want[taintID{ct.taint.Key, ct.taint.Effect}] = status[ct.condition] == ct.status
	}
	var taints []corev1.Taint
	has := map[taintID]bool{}
	changed := false
	for _, t := range node.Spec.Taints {
		id := taintID{t.Key, t.Effect}
		if on, managed := want[id]; managed {
			if !on {
				changed = true
				continue
			}
			has[id] = true
		}
		taints = append(taints, t)
	}
	for _, ct := range conditionTaints {
		if id := (taintID{ct.taint.Key, ct.taint.Effect}); want[id] && !has[id] {
			changed = true
			t := ct.taint
			if t.Effect == corev1.TaintEffectNoExecute {
				t.TimeAdded = ptrTime(now)
			}
			taints = append(taints, t)
		}
	}
	if !changed {
		return nil
	}
	orig := node.DeepCopy()
	node.Spec.Taints = taints
	return r.Patch(ctx, node, client.MergeFromWithOptions(orig, client.MergeFromWithOptimisticLock{}))
}
