package statefulset

import (
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	appsv1alpha1 "github.com/kybern/kybern/api/apps/v1alpha1"
	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
)

var now = time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)

// The revisions in these tests: pods of the update revision carry upd, older ones cur.
const (
	cur = "web-cur"
	upd = "web-upd"
)

func newSet(replicas int32, opts ...func(*appsv1alpha1.StatefulSet)) *appsv1alpha1.StatefulSet {
	set := &appsv1alpha1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "web", UID: "set-uid", Generation: 3}}
	set.Spec.Replicas = ptr.To(replicas)
	set.Spec.ServiceName = "svc"
	set.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}
	set.Spec.Template.Labels = map[string]string{"app": "web"}
	set.Spec.Template.Spec.Containers = []corev1.Container{{Name: "c", Image: "busybox"}}
	set.Spec.UpdateStrategy = appsv1.StatefulSetUpdateStrategy{Type: appsv1.RollingUpdateStatefulSetStrategyType,
		RollingUpdate: &appsv1.RollingUpdateStatefulSetStrategy{Partition: ptr.To[int32](0)}}
	for _, o := range opts {
		o(set)
	}
	return set
}

func parallel(set *appsv1alpha1.StatefulSet) {
	set.Spec.PodManagementPolicy = appsv1.ParallelPodManagement
}

func onDelete(set *appsv1alpha1.StatefulSet) {
	set.Spec.UpdateStrategy = appsv1.StatefulSetUpdateStrategy{Type: appsv1.OnDeleteStatefulSetStrategyType}
}

func withPartition(p int32) func(*appsv1alpha1.StatefulSet) {
	return func(set *appsv1alpha1.StatefulSet) { set.Spec.UpdateStrategy.RollingUpdate.Partition = ptr.To(p) }
}

func startAt(n int32) func(*appsv1alpha1.StatefulSet) {
	return func(set *appsv1alpha1.StatefulSet) { set.Spec.Ordinals = &appsv1.StatefulSetOrdinals{Start: n} }
}

func withTemplate(name string) func(*appsv1alpha1.StatefulSet) {
	return func(set *appsv1alpha1.StatefulSet) {
		set.Spec.VolumeClaimTemplates = append(set.Spec.VolumeClaimTemplates, corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: name}})
	}
}

func retention(whenDeleted, whenScaled appsv1.PersistentVolumeClaimRetentionPolicyType) func(*appsv1alpha1.StatefulSet) {
	return func(set *appsv1alpha1.StatefulSet) {
		set.Spec.PersistentVolumeClaimRetentionPolicy = &appsv1.StatefulSetPersistentVolumeClaimRetentionPolicy{WhenDeleted: whenDeleted, WhenScaled: whenScaled}
	}
}

// pod is set web's healthy pod of ordinal at revision rev; opts adjust it.
func pod(ordinal int, rev string, opts ...func(*corev1alpha1.Pod)) *corev1alpha1.Pod {
	set := newSet(1)
	p := newPod(set, &set.Spec.Template, rev, ordinal)
	p.UID = types.UID(p.Name + "-uid")
	p.Status.Phase = corev1.PodRunning
	p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: metav1.NewTime(now.Add(-time.Hour))}}
	for _, o := range opts {
		o(p)
	}
	return p
}

func notReady(p *corev1alpha1.Pod) { p.Status.Conditions = nil; p.Status.Phase = corev1.PodPending }

func failed(p *corev1alpha1.Pod) { p.Status.Phase = corev1.PodFailed }

func deleting(p *corev1alpha1.Pod) { t := metav1.NewTime(now); p.DeletionTimestamp = &t }

// observeAt sorts pods for set as Reconcile does, with no claims.
func observeAt(set *appsv1alpha1.StatefulSet, pods ...*corev1alpha1.Pod) *observed {
	return observe(set, pods, map[string]*corev1.PersistentVolumeClaim{}, cur, upd, now)
}
