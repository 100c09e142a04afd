package stream

import (
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
)

func TestContainerDefaults(t *testing.T) {
	pod := func(annotation string, names ...string) *corev1alpha1.Pod {
		p := &corev1alpha1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Annotations: map[string]string{}}}
		if annotation != "" {
			p.Annotations[DefaultContainerAnnotation] = annotation
		}
		for _, n := range names {
			p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: n})
		}
		return p
	}
	for _, tc := range []struct {
		name  string
		pod   *corev1alpha1.Pod
		given string
		want  string
		note  string
	}{
		{"given", pod("", "a", "b"), "b", "b", ""},
		{"the only one", pod("", "a"), "", "a", ""},
		{"the annotation's", pod("b", "a", "b"), "", "b", ""},
		{"an annotation naming no container", pod("x", "a", "b"), "", "a", `Defaulted container "a" out of: a, b`},
		{"the first of several", pod("", "a", "b"), "", "a", `Defaulted container "a" out of: a, b`},
	} {
		var note string
		got, err := container(tc.pod, tc.given, func(s string) { note = s })
		if err != nil || got != tc.want || note != tc.note {
			t.Errorf("%s: got %q %q %v, want %q %q", tc.name, got, note, err, tc.want, tc.note)
		}
	}
	if _, err := container(pod(""), "", func(string) {}); err == nil {
		t.Error("a pod without containers gave one")
	}
}

func TestAgentHost(t *testing.T) {
	node := &corev1alpha1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1"}}
	if _, err := agentHost(node); err == nil || !strings.Contains(err.Error(), "--port") {
		t.Errorf("a node without a port: %v", err)
	}
	node.Status.DaemonEndpoints.KubeletEndpoint.Port = 10250
	node.Status.Addresses = []corev1.NodeAddress{{Type: corev1.NodeHostName, Address: "n1"}, {Type: corev1.NodeExternalIP, Address: "203.0.113.1"}}
	if got, err := agentHost(node); err != nil || got != "203.0.113.1:10250" {
		t.Errorf("external only: %q %v", got, err)
	}
	node.Status.Addresses = append(node.Status.Addresses, corev1.NodeAddress{Type: corev1.NodeInternalIP, Address: "10.0.0.1"})
	if got, err := agentHost(node); err != nil || got != "10.0.0.1:10250" {
		t.Errorf("internal first: %q %v", got, err)
	}
}

func TestPodOrderPrefersRunningReadyOldest(t *testing.T) {
	at := func(name string, phase corev1.PodPhase, ready corev1.ConditionStatus, age time.Duration) corev1alpha1.Pod {
		p := corev1alpha1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, CreationTimestamp: metav1.NewTime(time.Unix(1e9, 0).Add(-age))}}
		p.Status.Phase = phase
		p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: ready}}
		return p
	}
	pending := at("pending", corev1.PodPending, corev1.ConditionFalse, time.Hour)
	unready := at("unready", corev1.PodRunning, corev1.ConditionFalse, time.Hour)
	young := at("young", corev1.PodRunning, corev1.ConditionTrue, time.Minute)
	old := at("old", corev1.PodRunning, corev1.ConditionTrue, 2*time.Minute)
	for _, pair := range [][2]corev1alpha1.Pod{{unready, pending}, {young, unready}, {old, young}} {
		if podOrder(pair[0], pair[1]) >= 0 {
			t.Errorf("%s should come before %s", pair[0].Name, pair[1].Name)
		}
	}
}
