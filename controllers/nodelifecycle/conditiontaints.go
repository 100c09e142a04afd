package nodelifecycle

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
)

// conditionTaints are the NoSchedule taints upstream's node lifecycle controller keeps
// by condition (TaintNodesByCondition), by the taint's key: each is on the node while its
// condition has the status named. Ready=Unknown's unreachable taint is markUnreachable's.
var conditionTaints = []struct {
	key       string
	condition corev1.NodeConditionType
	status    corev1.ConditionStatus
}{
	{corev1.TaintNodeNotReady, corev1.NodeReady, corev1.ConditionFalse},
	{corev1.TaintNodeMemoryPressure, corev1.NodeMemoryPressure, corev1.ConditionTrue},
	{corev1.TaintNodeDiskPressure, corev1.NodeDiskPressure, corev1.ConditionTrue},
	{corev1.TaintNodePIDPressure, corev1.NodePIDPressure, corev1.ConditionTrue},
}

// syncConditionTaints adds the NoSchedule taint of each condition the node reports and
// removes those of conditions it no longer reports, so that the scheduler sends no new
// pod to a node that is not ready or under pressure.
func (r *Reconciler) syncConditionTaints(ctx context.Context, node *corev1alpha1.Node) error {
	status := map[corev1.NodeConditionType]corev1.ConditionStatus{}
	for _, c := range node.Status.Conditions {
		status[c.Type] = c.Status
	}
	want := map[string]bool{}
	for _, ct := range conditionTaints {
		want[ct.key] = status[ct.condition] == ct.status
	}
	var taints []corev1.Taint
	has := map[string]bool{}
	changed := false
	for _, t := range node.Spec.Taints {
		on, managed := want[t.Key]
		if managed && t.Effect == corev1.TaintEffectNoSchedule {
			if !on {
				changed = true
				continue
			}
			has[t.Key] = true
		}
		taints = append(taints, t)
	}
	for _, ct := range conditionTaints {
		if want[ct.key] && !has[ct.key] {
			changed = true
			taints = append(taints, corev1.Taint{Key: ct.key, Effect: corev1.TaintEffectNoSchedule})
		}
	}
	if !changed {
		return nil
	}
	orig := node.DeepCopy()
	node.Spec.Taints = taints
	return r.Patch(ctx, node, client.MergeFromWithOptions(orig, client.MergeFromWithOptimisticLock{}))
}
