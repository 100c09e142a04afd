package nodepredicates

import (
	corev1 "k8s.io/api/core/v1"

	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
)

// UntoleratedTaint returns n's first NoSchedule or NoExecute taint, in spec order, that
// p's tolerations do not tolerate, pointing into n.Spec.Taints; nil when there is none.
// PreferNoSchedule taints never count: they only lower a node's score.
func UntoleratedTaint(p *corev1alpha1.Pod, n *corev1alpha1.Node) *corev1.Taint {
	for i, t := range n.Spec.Taints {
		if (t.Effect == corev1.TaintEffectNoSchedule || t.Effect == corev1.TaintEffectNoExecute) && !Tolerates(p.Spec.Tolerations, t) {
			return &n.Spec.Taints[i]
		}
	}
	return nil
}

// Tolerates reports whether any toleration tolerates the taint: an empty effect covers
// every effect, an empty key with Exists every key, Exists any value, and Equal (the
// default operator) only the same value of a named key. A toleration with an empty key
// and Equal, or with any other operator (Lt, Gt), tolerates nothing.
func Tolerates(tolerations []corev1.Toleration, taint corev1.Taint) bool {
	for _, t := range tolerations {
		if t.Effect != "" && t.Effect != taint.Effect {
			continue
		}
		if t.Key != "" && t.Key != taint.Key {
			continue
		}
		switch t.Operator {
		case corev1.TolerationOpExists:
			return true
		case corev1.TolerationOpEqual, "":
			if t.Key != "" && t.Value == taint.Value {
				return true
			}
		}
	}
	return false
}
