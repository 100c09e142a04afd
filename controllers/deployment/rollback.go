package deployment

import (
	"context"
	"fmt"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	appsv1alpha1 "github.com/kybern/kybern/api/apps/v1alpha1"
	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
	"github.com/kybern/kybern/controllers/internal/podutil"
	"github.com/kybern/kybern/controllers/internal/rollback"
)

// Automatic rollback (spec.rollbackPolicy). status.rollback.stableRevision names the
// ReplicaSet of the last rollout that completed. When a trigger fires for the ReplicaSet
// of spec.template, its name becomes failedRevision, and while spec.template still
// matches it the Deployment rolls the stable ReplicaSet's template out instead: the
// stable ReplicaSet is the new one and the failed one is old, so the rollback keeps the
// strategy's maxSurge and maxUnavailable. spec is never written.

// RolledBackCondition is the Deployment condition of a rollback in force.
const RolledBackCondition = appsv1.DeploymentConditionType(appsv1alpha1.RolledBack)

// RollbackReasonStableGone is the RolledBack=False reason when the stable ReplicaSet of a
// rollback in force was deleted, so that spec.template rolls out again.
const RollbackReasonStableGone = "StableRevisionGone"

// specReplicaSetName is the name of the ReplicaSet that holds spec.template, as resolved:
// the one that exists, or the one it would be created as.
func (s *syncer) specReplicaSetName() string {
	if rs := s.findRS(s.spec); rs != nil {
		return rs.Name
	}
	return s.d.Name + "-" + podutil.TemplateHash(s.spec, s.d.Status.CollisionCount)
}

func (s *syncer) findRS(t *corev1.PodTemplateSpec) *appsv1alpha1.ReplicaSet {
	for _, rs := range s.rsList {
		if equalIgnoringHash(&rs.Spec.Template, t) {
			return rs
		}
	}
	return nil
}

func (s *syncer) namedRS(name string) *appsv1alpha1.ReplicaSet {
	for _, rs := range s.rsList {
		if rs.Name == name && rs.DeletionTimestamp == nil {
			return rs
		}
	}
	return nil
}

// holdRollback chooses the template to roll out from what status.rollback remembers: the
// stable ReplicaSet's while spec.template is the failed revision, spec.template otherwise.
// It clears a rollback that a new template, a removed policy or a deleted stable
// ReplicaSet ended. It changes status in memory only.
func (s *syncer) holdRollback() {
	st := &s.d.Status
	if s.d.Spec.RollbackPolicy == nil {
		st.Rollback = nil
		removeCondition(st, RolledBackCondition)
		return
	}
	if st.Rollback == nil {
		st.Rollback = &appsv1alpha1.RollbackStatus{}
	}
	failed := st.Rollback.FailedRevision
	if failed == "" {
		return
	}
	if s.specReplicaSetName() != failed {
		st.Rollback.FailedRevision = ""
		removeCondition(st, RolledBackCondition)
		return
	}
	stable := s.namedRS(st.Rollback.StableRevision)
	if stable == nil {
		st.Rollback.FailedRevision = ""
		s.setCondition(RolledBackCondition, corev1.ConditionFalse, RollbackReasonStableGone,
			fmt.Sprintf("Stable revision %s no longer exists; rolling out spec.template again", st.Rollback.StableRevision))
		return
	}
	s.target = templateOf(stable)
}

// rollingBack reports whether a rollback holds this reconcile.
func (s *syncer) rollingBack() bool {
	return s.target != s.spec
}

// judgeRollout fires the rollback policy's triggers against the ReplicaSet of
// spec.template. When they fire it records the rollback in status, in memory, and returns
// the condition's message; otherwise it returns how soon to judge again for pods not yet
// unready for long enough (0 for no need).
func (s *syncer) judgeRollout(ctx context.Context) (fired string, recheck time.Duration, err error) {
	pol, on := rollback.Resolve(s.d.Spec.RollbackPolicy)
	st := s.d.Status.Rollback
	if !on || s.rollingBack() {
		return "", 0, nil
	}
	current := s.findRS(s.spec)
	stable := s.namedRS(st.StableRevision)
	if current == nil || stable == nil || current.Name == stable.Name {
		return "", 0, nil
	}
	reason, detail := s.progressDeadlineExceeded(pol, current)
	if reason == "" {
		pods, err := s.podsOf(ctx, current)
		if err != nil {
			return "", 0, err
		}
		v := pol.Judge(pods, s.Clock.Now())
		if !pol.Exceeded(v.Failing, replicasOf(s.d)) {
			return "", v.Recheck, nil
		}
		reason, detail = v.Reason, fmt.Sprintf("%d of %d pods failing; %s", v.Failing, replicasOf(s.d), v.Detail)
	}
	st.FailedRevision = current.Name
	msg := rollback.Message(current.Name, stable.Name, detail)
	s.setCondition(RolledBackCondition, corev1.ConditionTrue, reason, msg)
	return msg, 0, nil
}

// startRollback writes the rollback judgeRollout decided, and only that: the reconcile
// that the write wakes acts on it. Acting at once would let a reconcile that still reads
// the Deployment from before the write judge again, on pods the rollback already
// removed, and roll the failed revision out once more.
func (s *syncer) startRollback(ctx context.Context, msg string) error {
	if _, err := s.finish(ctx, s.findRS(s.spec), false); err != nil {
		return err
	}
	s.Recorder.Event(s.d, corev1.EventTypeWarning, appsv1alpha1.RolledBack, msg)
	return nil
}

// progressDeadlineExceeded reports the progress-deadline trigger: the Progressing
// condition timed out after current was created, so it speaks of current's rollout.
func (s *syncer) progressDeadlineExceeded(pol rollback.Policy, current *appsv1alpha1.ReplicaSet) (reason, detail string) {
	cond := progressingCondition(s.d)
	if !pol.ProgressDeadline || s.d.Spec.ProgressDeadlineSeconds == nil || cond == nil ||
		cond.Reason != TimedOutReason || cond.LastUpdateTime.Before(&current.CreationTimestamp) {
		return "", ""
	}
	return appsv1alpha1.RollbackReasonProgressDeadline,
		fmt.Sprintf("the rollout made no progress for spec.progressDeadlineSeconds (%ds)", *s.d.Spec.ProgressDeadlineSeconds)
}

// podsOf lists the live pods rs controls.
func (s *syncer) podsOf(ctx context.Context, rs *appsv1alpha1.ReplicaSet) ([]*corev1alpha1.Pod, error) {
	sel, err := metav1.LabelSelectorAsSelector(rs.Spec.Selector)
	if err != nil {
		return nil, err
	}
	var list corev1alpha1.PodList
	if err := s.List(ctx, &list, client.InNamespace(rs.Namespace), client.MatchingLabelsSelector{Selector: sel}); err != nil {
		return nil, err
	}
	var out []*corev1alpha1.Pod
	for i := range list.Items {
		if p := &list.Items[i]; metav1.IsControlledBy(p, rs) && podutil.IsActive(p) {
			out = append(out, p)
		}
	}
	return out, nil
}

// recordStable remembers newRS as the stable revision once a rollout of spec.template
// completed; a completed rollback leaves the stable revision as it is.
func (s *syncer) recordStable(status *appsv1alpha1.DeploymentStatus, newRS *appsv1alpha1.ReplicaSet) {
	if status.Rollback == nil || newRS == nil || s.rollingBack() || !complete(s.d, status) {
		return
	}
	status.Rollback.StableRevision = newRS.Name
}

// keptByRollback reports whether cleanup must keep rs: the stable revision, and the
// failed one while a rollback holds.
func (s *syncer) keptByRollback(rs *appsv1alpha1.ReplicaSet) bool {
	st := s.d.Status.Rollback
	return st != nil && (rs.Name == st.StableRevision || rs.Name == st.FailedRevision)
}

// templateOf is rs's template without the pod-template-hash label, as a Deployment's.
func templateOf(rs *appsv1alpha1.ReplicaSet) *corev1.PodTemplateSpec {
	t := rs.Spec.Template.DeepCopy()
	delete(t.Labels, PodTemplateHashLabel)
	if len(t.Labels) == 0 {
		t.Labels = nil
	}
	return t
}

// restartsChanged passes pod updates that change a container's restart count, which the
// crash-loop trigger counts and no ReplicaSet status reflects.
func restartsChanged(old, cur *corev1alpha1.Pod) bool {
	return podutil.MaxRestarts(old) != podutil.MaxRestarts(cur)
}
