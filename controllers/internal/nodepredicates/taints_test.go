package nodepredicates

import (
	"testing"

	corev1 "k8s.io/api/core/v1"

	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
)

func TestTolerates(t *testing.T) {
	gpu := corev1.Taint{Key: "dedicated", Value: "gpu", Effect: corev1.TaintEffectNoSchedule}
	cases := []struct {
		name       string
		toleration corev1.Toleration
		want       bool
	}{
		{"Equal, same key, value and effect", corev1.Toleration{Key: "dedicated", Operator: corev1.TolerationOpEqual, Value: "gpu", Effect: corev1.TaintEffectNoSchedule}, true},
		{"no operator means Equal", corev1.Toleration{Key: "dedicated", Value: "gpu"}, true},
		{"Equal, another value", corev1.Toleration{Key: "dedicated", Operator: corev1.TolerationOpEqual, Value: "cpu"}, false},
		{"Equal, another key", corev1.Toleration{Key: "team", Operator: corev1.TolerationOpEqual, Value: "gpu"}, false},
		{"an empty effect covers every effect", corev1.Toleration{Key: "dedicated", Operator: corev1.TolerationOpExists}, true},
		{"another effect", corev1.Toleration{Key: "dedicated", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute}, false},
		{"Exists covers any value", corev1.Toleration{Key: "dedicated", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule}, true},
		{"an empty key with Exists covers every key", corev1.Toleration{Operator: corev1.TolerationOpExists}, true},
		{"an empty key with Equal tolerates nothing, even the same value", corev1.Toleration{Operator: corev1.TolerationOpEqual, Value: "gpu"}, false},
		{"Gt tolerates nothing", corev1.Toleration{Key: "dedicated", Operator: "Gt", Value: "1"}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := Tolerates([]corev1.Toleration{tc.toleration}, gpu); got != tc.want {
				t.Fatalf("Tolerates = %v, want %v", got, tc.want)
			}
		})
	}
	if Tolerates(nil, gpu) {
		t.Fatal("no tolerations tolerate a taint")
	}
	if !Tolerates([]corev1.Toleration{{Key: "team", Operator: corev1.TolerationOpExists}, {Key: "dedicated", Operator: corev1.TolerationOpExists}}, gpu) {
		t.Fatal("any one toleration suffices")
	}
}

func TestUntoleratedTaint(t *testing.T) {
	taint := func(key string, effect corev1.TaintEffect) corev1.Taint {
		return corev1.Taint{Key: key, Value: "v", Effect: effect}
	}
	tolerating := func(keys ...string) *corev1alpha1.Pod {
		p := &corev1alpha1.Pod{}
		for _, k := range keys {
			p.Spec.Tolerations = append(p.Spec.Tolerations, corev1.Toleration{Key: k, Operator: corev1.TolerationOpExists})
		}
		return p
	}
	cases := []struct {
		name    string
		pod     *corev1alpha1.Pod
		taints  []corev1.Taint
		wantKey string
	}{
		{"no taints", tolerating(), nil, ""},
		{"an untolerated NoSchedule", tolerating(), []corev1.Taint{taint("a", corev1.TaintEffectNoSchedule)}, "a"},
		{"an untolerated NoExecute", tolerating(), []corev1.Taint{taint("a", corev1.TaintEffectNoExecute)}, "a"},
		{"PreferNoSchedule does not count", tolerating(), []corev1.Taint{taint("a", corev1.TaintEffectPreferNoSchedule)}, ""},
		{"a tolerated taint", tolerating("a"), []corev1.Taint{taint("a", corev1.TaintEffectNoExecute)}, ""},
		{"the first untolerated one, in spec order", tolerating("a"),
			[]corev1.Taint{taint("a", corev1.TaintEffectNoSchedule), taint("c", corev1.TaintEffectNoExecute), taint("b", corev1.TaintEffectNoSchedule)}, "c"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			n := node("n")
			n.Spec.Taints = tc.taints
			got := UntoleratedTaint(tc.pod, n)
			switch {
			case tc.wantKey == "" && got != nil:
				t.Fatalf("UntoleratedTaint = %v, want none", *got)
			case tc.wantKey != "" && (got == nil || got.Key != tc.wantKey):
				t.Fatalf("UntoleratedTaint = %v, want the taint %q", got, tc.wantKey)
			case got != nil && !pointsInto(got, n.Spec.Taints):
				t.Fatal("UntoleratedTaint must point into the node's taints")
			}
		})
	}
}

func pointsInto(t *corev1.Taint, taints []corev1.Taint) bool {
	for i := range taints {
		if t == &taints[i] {
			return true
		}
	}
	return false
}
