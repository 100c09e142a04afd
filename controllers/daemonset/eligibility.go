package daemonset

import (
	"slices"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	appsv1alpha1 "github.com/kybern/kybern/api/apps/v1alpha1"
	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
	"github.com/kybern/kybern/controllers/internal/nodepredicates"
)

// eligibilityPod is the pod ds would run, before it targets a node: its template with the
// daemon tolerations added. Whether a node fits is judged on it, as upstream's NewPod.
func eligibilityPod(ds *appsv1alpha1.DaemonSet) *corev1alpha1.Pod {
	p := &corev1alpha1.Pod{ObjectMeta: *ds.Spec.Template.ObjectMeta.DeepCopy(), Spec: *ds.Spec.Template.Spec.DeepCopy()}
	p.Namespace = ds.Namespace
	addDaemonTolerations(&p.Spec)
	return p
}

// shouldRun reports whether a daemon pod p should be created on node (run) and whether
// one already there may stay (keep), as upstream's NodeShouldRunDaemonPod:
//   - a template nodeName naming another node, a nodeSelector or a required node affinity
//     the node fails: neither;
//   - an untolerated NoExecute taint: neither, the pod would be evicted;
//   - an untolerated NoSchedule taint only: keep, but create nothing new;
//   - otherwise both.
func shouldRun(p *corev1alpha1.Pod, node *corev1alpha1.Node) (run, keep bool) {
	if p.Spec.NodeName != "" && p.Spec.NodeName != node.Name {
		return false, false
	}
	if !nodepredicates.AffinityMatches(p, node) {
		return false, false
	}
	if nodepredicates.UntoleratedTaint(p, node) == nil {
		return true, true
	}
	for _, t := range node.Spec.Taints {
		if t.Effect == corev1.TaintEffectNoExecute && !nodepredicates.Tolerates(p.Spec.Tolerations, t) {
			return false, false
		}
	}
	return false, true
}

// addDaemonTolerations gives spec upstream's DaemonSet tolerations: a daemon keeps running
// on a node that is not ready or unreachable, lands on one under disk, memory or PID
// pressure or cordoned, and with hostNetwork on one whose network is unavailable. Each
// tolerates forever: one of the same key, operator, value and effect is replaced, dropping
// its tolerationSeconds, as upstream's AddOrUpdateTolerationInPodSpec.
func addDaemonTolerations(spec *corev1.PodSpec) {
	want := []corev1.Toleration{
		{Key: corev1.TaintNodeNotReady, Effect: corev1.TaintEffectNoExecute},
		{Key: corev1.TaintNodeUnreachable, Effect: corev1.TaintEffectNoExecute},
		{Key: corev1.TaintNodeDiskPressure, Effect: corev1.TaintEffectNoSchedule},
		{Key: corev1.TaintNodeMemoryPressure, Effect: corev1.TaintEffectNoSchedule},
		{Key: corev1.TaintNodePIDPressure, Effect: corev1.TaintEffectNoSchedule},
		{Key: corev1.TaintNodeUnschedulable, Effect: corev1.TaintEffectNoSchedule},
	}
	if spec.HostNetwork {
		want = append(want, corev1.Toleration{Key: corev1.TaintNodeNetworkUnavailable, Effect: corev1.TaintEffectNoSchedule})
	}
next:
	for _, t := range want {
		t.Operator = corev1.TolerationOpExists
		for i := range spec.Tolerations {
			if spec.Tolerations[i].MatchToleration(&t) {
				spec.Tolerations[i] = t
				continue next
			}
		}
		spec.Tolerations = append(spec.Tolerations, t)
	}
}

// targetNodeAffinity returns affinity with its required node affinity replaced by one term
// that matches only node by metadata.name, as upstream's
// ReplaceDaemonSetPodNodeNameNodeAffinity: the node was found to fit already, so the
// template's own required terms have done their work. Preferred terms and pod
// (anti-)affinity stay.
func targetNodeAffinity(affinity *corev1.Affinity, node string) *corev1.Affinity {
	required := &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{
		MatchFields: []corev1.NodeSelectorRequirement{{Key: metav1.ObjectNameField, Operator: corev1.NodeSelectorOpIn, Values: []string{node}}},
	}}}
	if affinity == nil {
		affinity = &corev1.Affinity{}
	}
	if affinity.NodeAffinity == nil {
		affinity.NodeAffinity = &corev1.NodeAffinity{}
	}
	affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution = required
	return affinity
}

// targetNode is the node a daemon pod is for: its spec.nodeName once bound, before that
// the single metadata.name its required node affinity names; "" when it names none.
func targetNode(p *corev1alpha1.Pod) string {
	if p.Spec.NodeName != "" {
		return p.Spec.NodeName
	}
	a := p.Spec.Affinity
	if a == nil || a.NodeAffinity == nil || a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution == nil {
		return ""
	}
	for _, term := range a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms {
		for _, r := range term.MatchFields {
			if r.Key == metav1.ObjectNameField && r.Operator == corev1.NodeSelectorOpIn && len(r.Values) == 1 {
				return r.Values[0]
			}
		}
	}
	return ""
}

// equalTaints reports whether two nodes' taints are the same as far as fitting goes: key,
// value and effect, in order; when a taint was added does not matter.
func equalTaints(a, b []corev1.Taint) bool {
	return slices.EqualFunc(a, b, func(x, y corev1.Taint) bool { return x.MatchTaint(&y) && x.Value == y.Value })
}
