package nodelifecycle

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
)

func TestEvictionTime(t *testing.T) {
	added := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	taint := func(key string, effect corev1.TaintEffect) corev1.Taint {
		return corev1.Taint{Key: key, Value: "v", Effect: effect, TimeAdded: ptr.To(metav1.NewTime(added))}
	}
	notReady, unreachable := taint(corev1.TaintNodeNotReady, corev1.TaintEffectNoExecute), taint(corev1.TaintNodeUnreachable, corev1.TaintEffectNoExecute)
	user := taint("dedicated", corev1.TaintEffectNoExecute)
	tolerate := func(key string, effect corev1.TaintEffect, seconds *int64) corev1.Toleration {
		return corev1.Toleration{Key: key, Operator: corev1.TolerationOpExists, Effect: effect, TolerationSeconds: seconds}
	}
	cases := []struct {
		name        string
		taints      []corev1.Taint
		tolerations []corev1.Toleration
		// after is how long after the taints were added the pod is evicted; nil for never.
		after *time.Duration
	}{
		{name: "no NoExecute taint: stays", taints: []corev1.Taint{taint(corev1.TaintNodeDiskPressure, corev1.TaintEffectNoSchedule)}},
		{name: "not-ready, no toleration: the not-ready default", taints: []corev1.Taint{notReady}, after: ptr.To(30 * time.Second)},
		{name: "unreachable, no toleration: the unreachable default", taints: []corev1.Taint{unreachable}, after: ptr.To(40 * time.Second)},
		{name: "unreachable tolerated for 60 s", taints: []corev1.Taint{unreachable},
			tolerations: []corev1.Toleration{tolerate(corev1.TaintNodeUnreachable, corev1.TaintEffectNoExecute, ptr.To[int64](60))}, after: ptr.To(time.Minute)},
		{name: "not-ready tolerated without a limit: stays", taints: []corev1.Taint{notReady},
			tolerations: []corev1.Toleration{tolerate(corev1.TaintNodeNotReady, corev1.TaintEffectNoExecute, nil)}},
		{name: "a toleration of another effect does not count: the default", taints: []corev1.Taint{notReady},
			tolerations: []corev1.Toleration{tolerate(corev1.TaintNodeNotReady, corev1.TaintEffectNoSchedule, nil)}, after: ptr.To(30 * time.Second)},
		{name: "a taint of the user's that nothing tolerates: at once", taints: []corev1.Taint{user}, after: ptr.To(time.Duration(0))},
		{name: "an empty key with Exists tolerates every taint, without a limit", taints: []corev1.Taint{user, unreachable},
			tolerations: []corev1.Toleration{{Operator: corev1.TolerationOpExists}}},
		{name: "the least seconds of the matching tolerations, one without a limit among them", taints: []corev1.Taint{user},
			tolerations: []corev1.Toleration{tolerate("dedicated", "", nil), tolerate("dedicated", corev1.TaintEffectNoExecute, ptr.To[int64](20))}, after: ptr.To(20 * time.Second)},
		{name: "the earliest over the taints", taints: []corev1.Taint{user, notReady},
			tolerations: []corev1.Toleration{tolerate("dedicated", corev1.TaintEffectNoExecute, nil)}, after: ptr.To(30 * time.Second)},
		{name: "a negative tolerationSeconds is 0", taints: []corev1.Taint{user},
			tolerations: []corev1.Toleration{tolerate("dedicated", corev1.TaintEffectNoExecute, ptr.To[int64](-5))}, after: ptr.To(time.Duration(0))},
		{name: "Equal matches the value only", taints: []corev1.Taint{user},
			tolerations: []corev1.Toleration{{Key: "dedicated", Operator: corev1.TolerationOpEqual, Value: "other", Effect: corev1.TaintEffectNoExecute}},
			after:       ptr.To(time.Duration(0))},
	}
	r := &Reconciler{DefaultNotReadyTolerationSeconds: 30, DefaultUnreachableTolerationSeconds: 40}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := &corev1alpha1.Pod{}
			p.Spec.Tolerations = tc.tolerations
			at, forever := r.evictionTime(p, tc.taints)
			switch {
			case tc.after == nil && !forever:
				t.Fatalf("evicted %s after the taints, want never", at.Sub(added))
			case tc.after != nil && forever:
				t.Fatalf("never evicted, want %s after the taints", *tc.after)
			case tc.after != nil && !at.Equal(added.Add(*tc.after)):
				t.Fatalf("evicted %s after the taints, want %s", at.Sub(added), *tc.after)
			}
		})
	}
}
