package rollout

import (
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	appsv1alpha1 "github.com/kybern/kybern/api/apps/v1alpha1"
)

func deployment(replicas int32, status appsv1.DeploymentStatus) *appsv1alpha1.Deployment {
	d := &appsv1alpha1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "web", Generation: 2, Annotations: map[string]string{revisionAnnotation: "3"}}}
	d.Spec.Replicas = ptr.To(replicas)
	status.ObservedGeneration = 2
	d.Status.DeploymentStatus = status
	return d
}

func TestDeploymentStatus(t *testing.T) {
	stale := deployment(3, appsv1.DeploymentStatus{})
	stale.Status.ObservedGeneration = 1
	timedOut := deployment(3, appsv1.DeploymentStatus{UpdatedReplicas: 1, Conditions: []appsv1.DeploymentCondition{
		{Type: appsv1.DeploymentProgressing, Status: "False", Reason: progressDeadlineExceeded}}})
	rolledBackDeployment := deployment(3, appsv1.DeploymentStatus{Replicas: 3, UpdatedReplicas: 3, AvailableReplicas: 3, Conditions: []appsv1.DeploymentCondition{
		{Type: appsv1.DeploymentProgressing, Status: "False", Reason: progressDeadlineExceeded},
		{Type: appsv1alpha1.RolledBack, Status: "True", Reason: progressDeadlineExceeded, Message: "Rolled back from revision web-2 to stable revision web-1"}}})
	for _, tc := range []struct {
		name     string
		d        *appsv1alpha1.Deployment
		revision int64
		msg      string
		done     bool
		err      string
	}{
		{name: "not observed", d: stale, msg: "Waiting for deployment spec update to be observed...\n"},
		{name: "updating", d: deployment(3, appsv1.DeploymentStatus{Replicas: 3, UpdatedReplicas: 1}),
			msg: `Waiting for deployment "web" rollout to finish: 1 out of 3 new replicas have been updated...` + "\n"},
		{name: "old pending", d: deployment(3, appsv1.DeploymentStatus{Replicas: 4, UpdatedReplicas: 3}),
			msg: `Waiting for deployment "web" rollout to finish: 1 old replicas are pending termination...` + "\n"},
		{name: "unavailable", d: deployment(3, appsv1.DeploymentStatus{Replicas: 3, UpdatedReplicas: 3, AvailableReplicas: 2}),
			msg: `Waiting for deployment "web" rollout to finish: 2 of 3 updated replicas are available...` + "\n"},
		{name: "done", d: deployment(3, appsv1.DeploymentStatus{Replicas: 3, UpdatedReplicas: 3, AvailableReplicas: 3}),
			msg: `deployment "web" successfully rolled out` + "\n", done: true},
		{name: "pinned revision running", d: deployment(3, appsv1.DeploymentStatus{Replicas: 3, UpdatedReplicas: 3, AvailableReplicas: 3}), revision: 3,
			msg: `deployment "web" successfully rolled out` + "\n", done: true},
		{name: "pinned revision rolled over", d: deployment(3, appsv1.DeploymentStatus{}), revision: 2,
			err: "desired revision (2) is different from the running revision (3)"},
		{name: "progress deadline", d: timedOut, err: `deployment "web" exceeded its progress deadline`},
		{name: "rolled back, even once the stable revision is available", d: rolledBackDeployment,
			err: `deployment "web" was rolled back (ProgressDeadlineExceeded): Rolled back from revision web-2 to stable revision web-1`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			msg, done, err := deploymentStatus(tc.d, tc.revision)
			if tc.err != "" {
				if err == nil || err.Error() != tc.err {
					t.Fatalf("error = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil || msg != tc.msg || done != tc.done {
				t.Errorf("status = %q, %v, %v; want %q, %v", msg, done, err, tc.msg, tc.done)
			}
		})
	}
}

func TestDaemonSetStatus(t *testing.T) {
	ds := func(strategy appsv1.DaemonSetUpdateStrategyType, desired, updated, available int32) *appsv1alpha1.DaemonSet {
		d := &appsv1alpha1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Name: "agent", Generation: 1}}
		d.Spec.UpdateStrategy.Type = strategy
		d.Status.DaemonSetStatus = appsv1.DaemonSetStatus{ObservedGeneration: 1, DesiredNumberScheduled: desired, UpdatedNumberScheduled: updated, NumberAvailable: available}
		return d
	}
	for _, tc := range []struct {
		ds   *appsv1alpha1.DaemonSet
		msg  string
		done bool
	}{
		{ds("", 3, 1, 1), `Waiting for daemon set "agent" rollout to finish: 1 out of 3 new pods have been updated...` + "\n", false},
		{ds(appsv1.RollingUpdateDaemonSetStrategyType, 3, 3, 2), `Waiting for daemon set "agent" rollout to finish: 2 of 3 updated pods are available...` + "\n", false},
		{ds("", 3, 3, 3), `daemon set "agent" successfully rolled out` + "\n", true},
	} {
		msg, done, err := daemonSetStatus(tc.ds)
		if err != nil || msg != tc.msg || done != tc.done {
			t.Errorf("status = %q, %v, %v; want %q, %v", msg, done, err, tc.msg, tc.done)
		}
	}
	if _, _, err := daemonSetStatus(ds(appsv1.OnDeleteDaemonSetStrategyType, 1, 1, 1)); err == nil || !strings.Contains(err.Error(), "only available for RollingUpdate") {
		t.Errorf("OnDelete error = %v", err)
	}
	back := ds("", 3, 3, 3)
	back.Status.Conditions = []appsv1.DaemonSetCondition{{Type: appsv1alpha1.RolledBack, Status: "True", Reason: "CrashLooping", Message: "Rolled back"}}
	if _, _, err := daemonSetStatus(back); err == nil || err.Error() != `daemon set "agent" was rolled back (CrashLooping): Rolled back` {
		t.Errorf("rolled back error = %v", err)
	}
}

func TestStatefulSetStatus(t *testing.T) {
	sts := func(partition *int32, ready, updated int32) *appsv1alpha1.StatefulSet {
		s := &appsv1alpha1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Name: "db", Generation: 1}}
		s.Spec.Replicas = ptr.To[int32](3)
		s.Spec.UpdateStrategy = appsv1.StatefulSetUpdateStrategy{Type: appsv1.RollingUpdateStatefulSetStrategyType}
		if partition != nil {
			s.Spec.UpdateStrategy.RollingUpdate = &appsv1.RollingUpdateStatefulSetStrategy{Partition: partition}
		}
		s.Status.StatefulSetStatus = appsv1.StatefulSetStatus{ObservedGeneration: 1, ReadyReplicas: ready, UpdatedReplicas: updated, CurrentRevision: "db-1", UpdateRevision: "db-2"}
		return s
	}
	for _, tc := range []struct {
		sts  *appsv1alpha1.StatefulSet
		msg  string
		done bool
	}{
		{sts(ptr.To[int32](0), 1, 1), "Waiting for 2 pods to be ready...\n", false},
		{sts(ptr.To[int32](0), 3, 2), "Waiting for partitioned roll out to finish: 2 out of 3 new pods have been updated...\n", false},
		{sts(ptr.To[int32](1), 3, 2), "partitioned roll out complete: 2 new pods have been updated...\n", true},
		{sts(nil, 3, 2), "Waiting for partitioned roll out to finish: 2 out of 3 new pods have been updated...\n", false},
		{sts(nil, 3, 3), "partitioned roll out complete: 3 new pods have been updated...\n", true},
	} {
		msg, done, err := statefulSetStatus(tc.sts)
		if err != nil || msg != tc.msg || done != tc.done {
			t.Errorf("status = %q, %v, %v; want %q, %v", msg, done, err, tc.msg, tc.done)
		}
	}
	back := sts(nil, 3, 3)
	back.Status.Conditions = []appsv1.StatefulSetCondition{{Type: appsv1alpha1.RolledBack, Status: "True", Reason: "NotReady", Message: "Rolled back"}}
	if _, _, err := statefulSetStatus(back); err == nil || err.Error() != `statefulset "db" was rolled back (NotReady): Rolled back` {
		t.Errorf("rolled back error = %v", err)
	}
	unobserved := sts(nil, 0, 0)
	unobserved.Status.ObservedGeneration = 0
	if msg, done, _ := statefulSetStatus(unobserved); done || msg != "Waiting for statefulset spec update to be observed...\n" {
		t.Errorf("unobserved status = %q, %v", msg, done)
	}
}
