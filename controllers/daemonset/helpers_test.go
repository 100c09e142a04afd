package daemonset

import (
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"

	appsv1alpha1 "github.com/kybern/kybern/api/apps/v1alpha1"
	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
)

var now = time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)

// The current revision's hash in these tests; pods of older ones carry oldHash.
const (
	curHash = "cur"
	oldHash = "old"
)

func newDS(opts ...func(*appsv1alpha1.DaemonSet)) *appsv1alpha1.DaemonSet {
	ds := &appsv1alpha1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "ds", UID: "ds-uid", Generation: 2}}
	ds.Spec.Template.Labels = map[string]string{"app": "ds"}
	ds.Spec.Template.Spec.Containers = []corev1.Container{{Name: "c", Image: "busybox"}}
	ds.Spec.UpdateStrategy = appsv1.DaemonSetUpdateStrategy{Type: appsv1.RollingUpdateDaemonSetStrategyType,
		RollingUpdate: &appsv1.RollingUpdateDaemonSet{MaxUnavailable: ptrInt(1), MaxSurge: ptrInt(0)}}
	for _, o := range opts {
		o(ds)
	}
	return ds
}

func ptrInt(n int) *intstr.IntOrString { v := intstr.FromInt32(int32(n)); return &v }

func rolling(surge, unavailable intstr.IntOrString) func(*appsv1alpha1.DaemonSet) {
	return func(ds *appsv1alpha1.DaemonSet) {
		ds.Spec.UpdateStrategy.RollingUpdate = &appsv1.RollingUpdateDaemonSet{MaxSurge: &surge, MaxUnavailable: &unavailable}
	}
}

func newNode(name string, opts ...func(*corev1alpha1.Node)) *corev1alpha1.Node {
	n := &corev1alpha1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"kubernetes.io/hostname": name}}}
	for _, o := range opts {
		o(n)
	}
	return n
}

func taint(key string, effect corev1.TaintEffect) func(*corev1alpha1.Node) {
	return func(n *corev1alpha1.Node) {
		n.Spec.Taints = append(n.Spec.Taints, corev1.Taint{Key: key, Value: "v", Effect: effect})
	}
}

func nodeLabel(k, v string) func(*corev1alpha1.Node) {
	return func(n *corev1alpha1.Node) { n.Labels[k] = v }
}

// newPod is a bound daemon pod on node of the revision hash; opts adjust it.
func newPod(name, node, hash string, opts ...func(*corev1alpha1.Pod)) *corev1alpha1.Pod {
	p := &corev1alpha1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name, UID: types.UID(name),
		Labels: map[string]string{RevisionHashLabel: hash}, CreationTimestamp: metav1.NewTime(now.Add(-time.Hour))}}
	p.Spec.NodeName = node
	p.Status.Phase = corev1.PodRunning
	for _, o := range opts {
		o(p)
	}
	return p
}

// readyFor makes a pod ready since d ago.
func readyFor(d time.Duration) func(*corev1alpha1.Pod) {
	return func(p *corev1alpha1.Pod) {
		p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: metav1.NewTime(now.Add(-d))}}
	}
}

var ready = readyFor(time.Hour)

func failed(p *corev1alpha1.Pod) { p.Status.Phase = corev1.PodFailed }

func deleting(p *corev1alpha1.Pod) { t := metav1.NewTime(now); p.DeletionTimestamp = &t }

func createdAgo(d time.Duration) func(*corev1alpha1.Pod) {
	return func(p *corev1alpha1.Pod) { p.CreationTimestamp = metav1.NewTime(now.Add(-d)) }
}

func unbound(p *corev1alpha1.Pod) {
	p.Spec.Affinity = targetNodeAffinity(nil, p.Spec.NodeName)
	p.Spec.NodeName = ""
}

// byNodeOf groups pods by target node, as Reconcile does.
func byNodeOf(pods ...*corev1alpha1.Pod) map[string][]*corev1alpha1.Pod { return podsByNode(pods) }

func podNames(pods []*corev1alpha1.Pod) []string {
	out := []string{}
	for _, p := range pods {
		out = append(out, p.Name)
	}
	return out
}

// fitsOf judges nodes for ds.
func fitsOf(ds *appsv1alpha1.DaemonSet, nodes ...*corev1alpha1.Node) []fit {
	items := make([]corev1alpha1.Node, len(nodes))
	for i, n := range nodes {
		items[i] = *n
	}
	return fitNodes(ds, items)
}
