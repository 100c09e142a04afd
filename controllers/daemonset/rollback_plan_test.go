package daemonset

import (
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	appsv1alpha1 "github.com/kybern/kybern/api/apps/v1alpha1"
	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
)

func revision(hash string) *appsv1.ControllerRevision {
	return &appsv1.ControllerRevision{ObjectMeta: metav1.ObjectMeta{Name: "ds-" + hash, Labels: map[string]string{RevisionHashLabel: hash}}}
}

func withRollback(stable, failed string) func(*appsv1alpha1.DaemonSet) {
	return func(ds *appsv1alpha1.DaemonSet) {
		ds.Spec.RollbackPolicy = &appsv1alpha1.RollbackPolicy{Triggers: &appsv1alpha1.RollbackTriggers{NotReady: &appsv1alpha1.NotReadyTrigger{Seconds: ptr.To[int32](60)}}}
		ds.Status.Rollback = &appsv1alpha1.RollbackStatus{StableRevision: stable, FailedRevision: failed}
	}
}

func TestDecideRollback(t *testing.T) {
	cur, old := revision(curHash), revision(oldHash)
	unready := func(name string) *corev1alpha1.Pod { return newPod(name, name, curHash, createdAgo(2*time.Minute)) }
	for _, tc := range []struct {
		name       string
		ds         *appsv1alpha1.DaemonSet
		old        []*appsv1.ControllerRevision
		pods       []*corev1alpha1.Pod
		wantTarget string
		wantStatus *appsv1alpha1.RollbackStatus
		wantCond   corev1.ConditionStatus
		started    bool
	}{
		{name: "no policy: spec.template, no status", ds: newDS(), old: []*appsv1.ControllerRevision{old},
			pods: []*corev1alpha1.Pod{unready("a")}, wantTarget: cur.Name},
		{name: "no stable revision yet: nothing to roll back to", ds: newDS(withRollback("", "")),
			pods: []*corev1alpha1.Pod{unready("a")}, wantTarget: cur.Name, wantStatus: &appsv1alpha1.RollbackStatus{}},
		{name: "failing pods of the new revision start a rollback", ds: newDS(withRollback(old.Name, "")), old: []*appsv1.ControllerRevision{old},
			pods: []*corev1alpha1.Pod{unready("a"), newPod("b", "b", oldHash, ready)}, wantTarget: cur.Name, started: true,
			wantStatus: &appsv1alpha1.RollbackStatus{StableRevision: old.Name, FailedRevision: cur.Name}, wantCond: corev1.ConditionTrue},
		{name: "pods of the stable revision are not judged", ds: newDS(withRollback(old.Name, "")), old: []*appsv1.ControllerRevision{old},
			pods: []*corev1alpha1.Pod{newPod("b", "b", oldHash, createdAgo(2*time.Minute))}, wantTarget: cur.Name,
			wantStatus: &appsv1alpha1.RollbackStatus{StableRevision: old.Name}},
		{name: "a rollback in force targets the stable revision", ds: newDS(withRollback(old.Name, cur.Name)), old: []*appsv1.ControllerRevision{old},
			wantTarget: old.Name, wantStatus: &appsv1alpha1.RollbackStatus{StableRevision: old.Name, FailedRevision: cur.Name}},
		{name: "a new template ends the rollback", ds: newDS(withRollback(old.Name, "ds-earlier")), old: []*appsv1.ControllerRevision{old},
			wantTarget: cur.Name, wantStatus: &appsv1alpha1.RollbackStatus{StableRevision: old.Name}},
		{name: "a deleted stable revision ends the rollback, saying so", ds: newDS(withRollback("ds-gone", cur.Name)),
			wantTarget: cur.Name, wantStatus: &appsv1alpha1.RollbackStatus{StableRevision: "ds-gone"}, wantCond: corev1.ConditionFalse},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := decideRollback(tc.ds, cur, tc.old, tc.pods, 2, now)
			if d.target.Name != tc.wantTarget || (d.started != "") != tc.started {
				t.Fatalf("target %s, started %q; want %s, started %v", d.target.Name, d.started, tc.wantTarget, tc.started)
			}
			status := *tc.ds.Status.DeepCopy()
			d.apply(tc.ds, cur, &status)
			if got, want := ptr.Deref(status.Rollback, appsv1alpha1.RollbackStatus{}), ptr.Deref(tc.wantStatus, appsv1alpha1.RollbackStatus{}); got != want || (status.Rollback == nil) != (tc.wantStatus == nil) {
				t.Errorf("status.rollback = %+v; want %+v", status.Rollback, tc.wantStatus)
			}
			var cond corev1.ConditionStatus
			for _, c := range status.Conditions {
				if c.Type == appsv1alpha1.RolledBack {
					cond = c.Status
				}
			}
			if cond != tc.wantCond {
				t.Errorf("RolledBack = %q; want %q", cond, tc.wantCond)
			}
		})
	}
}
