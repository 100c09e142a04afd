package podgc

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/sets"

	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
)

func pod(name, node string, phase corev1.PodPhase, created int64, deleting bool) corev1alpha1.Pod {
	p := corev1alpha1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name, CreationTimestamp: metav1.Unix(created, 0)}}
	p.Spec.NodeName = node
	p.Status.Phase = phase
	if deleting {
		p.DeletionTimestamp = &metav1.Time{Time: time.Unix(created+1, 0)}
	}
	return p
}

func node(name string, ready bool, taints ...string) *corev1alpha1.Node {
	n := &corev1alpha1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}}
	status := corev1.ConditionFalse
	if ready {
		status = corev1.ConditionTrue
	}
	n.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: status}}
	for _, t := range taints {
		n.Spec.Taints = append(n.Spec.Taints, corev1.Taint{Key: t, Effect: corev1.TaintEffectNoExecute})
	}
	return n
}

// got renders a plan as "name:message-or-delete" entries, in order.
func got(actions []action) []string {
	var out []string
	for _, a := range actions {
		what := "delete"
		if a.message != "" {
			what = a.message
			if a.deleteIt {
				what += "+delete"
			}
		}
		out = append(out, a.pod.Name+":"+what)
	}
	return out
}

func TestPlan(t *testing.T) {
	nodes := map[string]*corev1alpha1.Node{
		"up":   node("up", true),
		"down": node("down", false),
		"oos":  node("oos", false, OutOfServiceTaint),
		// Tainted but Ready: upstream collects nothing there.
		"oos-ready": node("oos-ready", true, OutOfServiceTaint),
	}
	const S, F, R = corev1.PodSucceeded, corev1.PodFailed, corev1.PodRunning
	for _, tc := range []struct {
		name      string
		pods      []corev1alpha1.Pod
		gone      []string
		threshold int
		want      []string
	}{
		{name: "terminated pods within the threshold stay", threshold: 3,
			pods: []corev1alpha1.Pod{pod("a", "up", S, 1, false), pod("b", "up", F, 2, false), pod("c", "up", S, 3, false), pod("r", "up", R, 0, false)}},
		{name: "the oldest terminated pods beyond the threshold go, running pods do not count", threshold: 2,
			pods: []corev1alpha1.Pod{pod("new", "up", S, 9, false), pod("old", "up", F, 1, false), pod("mid", "up", S, 5, false), pod("older", "up", S, 0, false), pod("r", "up", R, 0, false)},
			want: []string{"older:delete", "old:delete"}},
		{name: "pods created in the same second go in name order", threshold: 1,
			pods: []corev1alpha1.Pod{pod("b", "up", S, 1, false), pod("a", "up", S, 1, false)},
			want: []string{"a:delete"}},
		{name: "terminated pods being deleted do not count", threshold: 1,
			pods: []corev1alpha1.Pod{pod("a", "up", S, 1, true), pod("b", "up", S, 2, false)}},
		{name: "a threshold of 0 keeps every terminated pod", threshold: 0,
			pods: []corev1alpha1.Pod{pod("a", "up", S, 1, false), pod("b", "up", S, 2, false)}},
		{name: "pods of a gone node are failed, released and deleted, whatever their phase", gone: []string{"lost"},
			pods: []corev1alpha1.Pod{pod("run", "lost", R, 1, false), pod("done", "lost", S, 1, false), pod("going", "lost", R, 1, true), pod("here", "up", R, 1, false)},
			want: []string{"run:" + messageNodeGone + "+delete", "done:" + messageNodeGone + "+delete", "going:" + messageNodeGone + "+delete"}},
		{name: "a terminated pod of a gone node beyond the threshold is planned once", gone: []string{"lost"}, threshold: 1,
			pods: []corev1alpha1.Pod{pod("a", "lost", S, 1, false), pod("b", "up", S, 2, false)},
			want: []string{"a:delete"}},
		{name: "pods being deleted on a NotReady out-of-service node are released, not others",
			pods: []corev1alpha1.Pod{pod("stuck", "oos", R, 1, true), pod("alive", "oos", R, 1, false), pod("waits", "down", R, 1, true), pod("ready", "oos-ready", R, 1, true)},
			want: []string{"stuck:" + messageOutOfService}},
		{name: "unscheduled pods are left alone",
			pods: []corev1alpha1.Pod{pod("pending", "", "", 1, true), pod("new", "", "", 1, false)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			actions := plan(snapshot{pods: tc.pods, nodes: nodes, gone: sets.New(tc.gone...), threshold: tc.threshold})
			g := got(actions)
			if len(g) != len(tc.want) {
				t.Fatalf("plan = %v, want %v", g, tc.want)
			}
			for i := range g {
				if g[i] != tc.want[i] {
					t.Fatalf("plan = %v, want %v", g, tc.want)
				}
			}
		})
	}
}
