package deployment

import (
	"context"
	"fmt"
	"maps"
	"sort"
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	appsv1alpha1 "github.com/kybern/kybern/api/apps/v1alpha1"
	"github.com/kybern/kybern/controllers/internal/configsnapshot"
	"github.com/kybern/kybern/controllers/internal/podutil"
)

// syncer carries one reconcile of one Deployment. Its methods change d's status and
// revision annotation in memory; finish writes them, once.
type syncer struct {
	*Reconciler
	d      *appsv1alpha1.Deployment
	rsList []*appsv1alpha1.ReplicaSet
	// origStatus is d's status as read, to write only a changed one.
	origStatus appsv1alpha1.DeploymentStatus
	// revision is the revision d should carry, once known.
	revision string
	// spec is the pod template spec.template stands for: itself, or its copy that reads
	// configuration snapshots (see config.go).
	spec *corev1.PodTemplateSpec
	// snaps are the configuration snapshots spec reads.
	snaps []configsnapshot.Ref
	// target is the pod template this reconcile rolls out: spec, or the stable revision's
	// while a rollback holds (see rollback.go).
	target *corev1.PodTemplateSpec
}

func newSyncer(r *Reconciler, d *appsv1alpha1.Deployment, rsList []*appsv1alpha1.ReplicaSet) *syncer {
	return &syncer{Reconciler: r, d: d, rsList: rsList, origStatus: *d.Status.DeepCopy(),
		spec: &d.Spec.Template, target: &d.Spec.Template}
}

func (s *syncer) setRevision(r string) { s.revision = r }

// split returns the new ReplicaSet, creating it when create is true and none exists,
// and the old ones. It also brings the revision annotations up to date.
func (s *syncer) split(ctx context.Context, create bool) (*appsv1alpha1.ReplicaSet, []*appsv1alpha1.ReplicaSet, error) {
	var existing *appsv1alpha1.ReplicaSet
	var old []*appsv1alpha1.ReplicaSet
	for _, rs := range s.rsList {
		if existing == nil && equalIgnoringHash(&rs.Spec.Template, s.target) {
			existing = rs
			continue
		}
		old = append(old, rs)
	}
	var maxOld int64
	for _, rs := range old {
		maxOld = max(maxOld, revision(rs))
	}
	newRevision := strconv.FormatInt(maxOld+1, 10)

	var rs *appsv1alpha1.ReplicaSet
	var err error
	switch {
	case existing != nil:
		rs, err = s.adoptAsNew(ctx, existing, newRevision)
	case create:
		rs, err = s.createNewRS(ctx, old, newRevision)
	}
	if rs != nil && err == nil && !s.rollingBack() {
		err = s.ownSnapshots(ctx, rs)
	}
	return rs, old, err
}

// adoptAsNew brings an existing new ReplicaSet's annotations and minReadySeconds in line
// with the Deployment. A ReplicaSet that becomes new again, as in a rollback, takes the
// next revision and remembers its old one.
func (s *syncer) adoptAsNew(ctx context.Context, rs *appsv1alpha1.ReplicaSet, newRevision string) (*appsv1alpha1.ReplicaSet, error) {
	updated := rs.DeepCopy()
	changed := s.setNewRSAnnotations(updated, newRevision, true)
	if updated.Spec.MinReadySeconds != s.d.Spec.MinReadySeconds {
		updated.Spec.MinReadySeconds = s.d.Spec.MinReadySeconds
		changed = true
	}
	if changed {
		if err := s.Update(ctx, updated); err != nil {
			return nil, err
		}
		s.replace(rs, updated)
	}
	s.setRevision(updated.Annotations[RevisionAnnotation])
	if progressingCondition(s.d) == nil {
		s.setCondition(appsv1.DeploymentProgressing, corev1.ConditionTrue, FoundNewRSReason,
			fmt.Sprintf("Found new replica set %q", updated.Name))
	}
	return updated, nil
}

// createNewRS creates the ReplicaSet of the Deployment's current template, named after
// the template's hash. A name taken by a ReplicaSet of another template is a hash
// collision: the collision count goes up and the next reconcile tries another name.
func (s *syncer) createNewRS(ctx context.Context, old []*appsv1alpha1.ReplicaSet, newRevision string) (*appsv1alpha1.ReplicaSet, error) {
	d := s.d
	hash := podutil.TemplateHash(s.target, d.Status.CollisionCount)
	template := s.target.DeepCopy()
	template.Labels = withLabel(template.Labels, PodTemplateHashLabel, hash)
	selector := d.Spec.Selector.DeepCopy()
	selector.MatchLabels = withLabel(selector.MatchLabels, PodTemplateHashLabel, hash)
	rs := &appsv1alpha1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{
			Name:            d.Name + "-" + hash,
			Namespace:       d.Namespace,
			Labels:          template.Labels,
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(d, appsv1alpha1.GroupVersion.WithKind("Deployment"))},
		},
		Spec: appsv1.ReplicaSetSpec{
			Replicas:        ptr.To[int32](0),
			MinReadySeconds: d.Spec.MinReadySeconds,
			Selector:        selector,
			Template:        *template,
		},
	}
	rs.Spec.Replicas = ptr.To(newRSReplicas(d, append(old, rs), rs))
	s.setNewRSAnnotations(rs, newRevision, false)

	err := s.Create(ctx, rs)
	if apierrors.IsAlreadyExists(err) {
		taken := &appsv1alpha1.ReplicaSet{}
		if getErr := s.APIReader.Get(ctx, client.ObjectKeyFromObject(rs), taken); getErr != nil {
			return nil, getErr
		}
		if metav1.IsControlledBy(taken, d) && equalIgnoringHash(&taken.Spec.Template, s.target) {
			// Ours, created by an earlier reconcile the cache has not shown yet.
			s.rsList = append(s.rsList, taken)
			return taken, nil
		}
		d.Status.CollisionCount = ptr.To(ptr.Deref(d.Status.CollisionCount, 0) + 1)
		return nil, fmt.Errorf("replica set name %s is taken by another template; retrying with collision count %d", rs.Name, *d.Status.CollisionCount)
	}
	if err != nil {
		msg := fmt.Sprintf("Failed to create new replica set %q: %v", rs.Name, err)
		s.setCondition(appsv1.DeploymentProgressing, corev1.ConditionFalse, FailedRSCreateReason, msg)
		s.Recorder.Event(d, corev1.EventTypeWarning, FailedRSCreateReason, msg)
		return nil, err
	}
	if rsReplicas(rs) > 0 {
		s.Recorder.Eventf(d, corev1.EventTypeNormal, "ScalingReplicaSet", "Scaled up replica set %s from 0 to %d", rs.Name, rsReplicas(rs))
	}
	s.rsList = append(s.rsList, rs)
	s.setRevision(newRevision)
	s.setCondition(appsv1.DeploymentProgressing, corev1.ConditionTrue, NewReplicaSetReason,
		fmt.Sprintf("Created new replica set %q", rs.Name))
	return rs, nil
}

// setNewRSAnnotations copies the Deployment's annotations onto rs and sets its revision
// (recording a replaced one in the revision history) and, for a ReplicaSet about to be
// created, the replica annotations. It reports whether anything changed.
func (s *syncer) setNewRSAnnotations(rs *appsv1alpha1.ReplicaSet, newRevision string, exists bool) bool {
	before := maps.Clone(rs.Annotations)
	if rs.Annotations == nil {
		rs.Annotations = map[string]string{}
	}
	for k, v := range s.d.Annotations {
		if !skipCopy(k) {
			rs.Annotations[k] = v
		}
	}
	oldRevision := rs.Annotations[RevisionAnnotation]
	oldN, _ := strconv.ParseInt(oldRevision, 10, 64)
	newN, _ := strconv.ParseInt(newRevision, 10, 64)
	if oldN < newN {
		rs.Annotations[RevisionAnnotation] = newRevision
		if oldRevision != "" {
			history := rs.Annotations[RevisionHistoryAnnotation]
			if history != "" {
				history += ","
			}
			rs.Annotations[RevisionHistoryAnnotation] = history + oldRevision
		}
	}
	if !exists {
		setReplicasAnnotations(rs, replicasOf(s.d), replicasOf(s.d)+maxSurge(s.d))
	}
	return !maps.Equal(before, rs.Annotations)
}

// skipCopy names the Deployment annotations that are not the ReplicaSet's business.
func skipCopy(key string) bool {
	switch key {
	case corev1.LastAppliedConfigAnnotation, RevisionAnnotation, RevisionHistoryAnnotation,
		DesiredReplicasAnnotation, MaxReplicasAnnotation:
		return true
	}
	return false
}

// setReplicasAnnotations records the Deployment size rs was last scaled for, and that
// size plus surge; proportional scaling reads them. It reports whether they changed.
func setReplicasAnnotations(rs *appsv1alpha1.ReplicaSet, desired, maxReplicas int32) bool {
	if rs.Annotations == nil {
		rs.Annotations = map[string]string{}
	}
	d, m := strconv.Itoa(int(desired)), strconv.Itoa(int(maxReplicas))
	changed := rs.Annotations[DesiredReplicasAnnotation] != d || rs.Annotations[MaxReplicasAnnotation] != m
	rs.Annotations[DesiredReplicasAnnotation], rs.Annotations[MaxReplicasAnnotation] = d, m
	return changed
}

// scaleReplicaSet sets rs's spec.replicas to n and its replica annotations to the
// Deployment's size, writing only what changed. It reports whether it wrote.
func (s *syncer) scaleReplicaSet(ctx context.Context, rs *appsv1alpha1.ReplicaSet, n int32) (bool, error) {
	updated := rs.DeepCopy()
	sizeChanged := rsReplicas(rs) != n
	updated.Spec.Replicas = ptr.To(n)
	annotationsChanged := setReplicasAnnotations(updated, replicasOf(s.d), replicasOf(s.d)+maxSurge(s.d))
	if !sizeChanged && !annotationsChanged {
		return false, nil
	}
	if err := s.Update(ctx, updated); err != nil {
		return false, err
	}
	if sizeChanged {
		direction := "up"
		if n < rsReplicas(rs) {
			direction = "down"
		}
		s.Recorder.Eventf(s.d, corev1.EventTypeNormal, "ScalingReplicaSet", "Scaled %s replica set %s from %d to %d", direction, rs.Name, rsReplicas(rs), n)
	}
	s.replace(rs, updated)
	*rs = *updated
	return sizeChanged, nil
}

// replace swaps rs for updated in the syncer's list.
func (s *syncer) replace(rs, updated *appsv1alpha1.ReplicaSet) {
	for i := range s.rsList {
		if s.rsList[i].UID == rs.UID {
			s.rsList[i] = updated
		}
	}
}

// isScalingEvent reports whether spec.replicas changed since the active ReplicaSets were
// last scaled, which their desired-replicas annotation records.
func (s *syncer) isScalingEvent() bool {
	for _, rs := range s.rsList {
		if rsReplicas(rs) == 0 {
			continue
		}
		if desired, ok := intAnnotation(rs, DesiredReplicasAnnotation); ok && desired != replicasOf(s.d) {
			return true
		}
	}
	return false
}

// sync handles a paused Deployment and a replica change: it scales without rolling out.
func (s *syncer) sync(ctx context.Context) error {
	newRS, old, err := s.split(ctx, false)
	if err != nil {
		return s.finishWithError(ctx, err)
	}
	if err := s.scale(ctx, newRS, old); err != nil {
		return s.finishWithError(ctx, err)
	}
	if s.d.Spec.Paused {
		if err := s.cleanup(ctx, old); err != nil {
			return s.finishWithError(ctx, err)
		}
	}
	_, err = s.finish(ctx, newRS, false)
	return err
}

// scale spreads spec.replicas over the ReplicaSets. With a single active ReplicaSet it
// takes the whole size; with a saturated new ReplicaSet the old ones go to 0; otherwise,
// mid-rollout, each takes its proportion of the change (see proportion), the largest
// taking what rounding leaves over.
func (s *syncer) scale(ctx context.Context, newRS *appsv1alpha1.ReplicaSet, old []*appsv1alpha1.ReplicaSet) error {
	d := s.d
	all := append([]*appsv1alpha1.ReplicaSet{}, old...)
	if newRS != nil {
		all = append(all, newRS)
	}
	var active []*appsv1alpha1.ReplicaSet
	for _, rs := range all {
		if rsReplicas(rs) > 0 {
			active = append(active, rs)
		}
	}
	if target := activeOrLatest(newRS, old, active); target != nil && len(active) <= 1 {
		if len(active) == 0 || active[0] == target {
			_, err := s.scaleReplicaSet(ctx, target, replicasOf(d))
			return err
		}
	}
	if newRS != nil && saturated(d, newRS) {
		for _, rs := range old {
			if _, err := s.scaleReplicaSet(ctx, rs, 0); err != nil {
				return err
			}
		}
		return nil
	}
	if !isRollingUpdate(d) || len(active) == 0 {
		return nil
	}
	var current int32
	for _, rs := range active {
		current += rsReplicas(rs)
	}
	allowed := int32(0)
	if replicasOf(d) > 0 {
		allowed = replicasOf(d) + maxSurge(d)
	}
	toAdd := allowed - current
	// Growing, the largest (then newest) goes first; shrinking, the largest (then oldest).
	sort.SliceStable(active, func(i, j int) bool {
		a, b := active[i], active[j]
		if rsReplicas(a) != rsReplicas(b) {
			return rsReplicas(a) > rsReplicas(b)
		}
		if toAdd > 0 {
			return olderRS(b, a)
		}
		return olderRS(a, b)
	})
	sizes := make([]int32, len(active))
	var added int32
	for i, rs := range active {
		p := proportion(rs, d, toAdd, added)
		sizes[i] = rsReplicas(rs) + p
		added += p
	}
	if leftover := toAdd - added; leftover != 0 {
		sizes[0] = max(sizes[0]+leftover, 0)
	}
	for i, rs := range active {
		if _, err := s.scaleReplicaSet(ctx, rs, sizes[i]); err != nil {
			return err
		}
	}
	return nil
}

// activeOrLatest is the only active ReplicaSet, or with none active the newest one.
func activeOrLatest(newRS *appsv1alpha1.ReplicaSet, old, active []*appsv1alpha1.ReplicaSet) *appsv1alpha1.ReplicaSet {
	switch len(active) {
	case 1:
		return active[0]
	case 0:
		if newRS != nil {
			return newRS
		}
		if len(old) > 0 {
			return old[len(old)-1]
		}
	}
	return nil
}

// saturated reports whether the new ReplicaSet has all the Deployment's replicas, each
// available.
func saturated(d *appsv1alpha1.Deployment, rs *appsv1alpha1.ReplicaSet) bool {
	desired, ok := intAnnotation(rs, DesiredReplicasAnnotation)
	return ok && rsReplicas(rs) == replicasOf(d) && desired == replicasOf(d) && rs.Status.AvailableReplicas == replicasOf(d)
}

// cleanup deletes the oldest empty old ReplicaSets beyond revisionHistoryLimit.
func (s *syncer) cleanup(ctx context.Context, old []*appsv1alpha1.ReplicaSet) error {
	if s.d.Spec.RevisionHistoryLimit == nil {
		return nil
	}
	var alive []*appsv1alpha1.ReplicaSet
	for _, rs := range old {
		if rs.DeletionTimestamp == nil && !s.keptByRollback(rs) {
			alive = append(alive, rs)
		}
	}
	excess := len(alive) - int(*s.d.Spec.RevisionHistoryLimit)
	if excess <= 0 {
		return nil
	}
	sort.SliceStable(alive, func(i, j int) bool {
		if revision(alive[i]) != revision(alive[j]) {
			return revision(alive[i]) < revision(alive[j])
		}
		return olderRS(alive[i], alive[j])
	})
	for _, rs := range alive[:excess] {
		// A ReplicaSet with pods, or whose last scale-down it has not observed, stays.
		if rs.Status.Replicas != 0 || rsReplicas(rs) != 0 || rs.Generation > rs.Status.ObservedGeneration {
			continue
		}
		if err := s.Delete(ctx, rs); err != nil && !apierrors.IsNotFound(err) {
			return err
		}
	}
	return nil
}

// syncStatusOnly refreshes the status of a Deployment being deleted.
func (s *syncer) syncStatusOnly(ctx context.Context) error {
	newRS, _, err := s.split(ctx, false)
	if err != nil {
		return err
	}
	_, err = s.finish(ctx, newRS, false)
	return err
}

// finish writes the revision annotation if it changed and the status computed from the
// ReplicaSets, once. With progress set, it also updates the Progressing condition and
// says when to look again for the progress deadline.
func (s *syncer) finish(ctx context.Context, newRS *appsv1alpha1.ReplicaSet, progress bool) (ctrl.Result, error) {
	if err := s.writeRevision(ctx); err != nil {
		return ctrl.Result{}, err
	}
	status := calculateStatus(s.d, s.rsList, newRS, s.Clock.Now())
	var result ctrl.Result
	if progress {
		result = s.progress(&status, newRS)
	}
	s.recordStable(&status, newRS)
	if apiequality.Semantic.DeepEqual(status, s.origStatus) {
		return result, nil
	}
	s.d.Status = status
	return result, s.Status().Update(ctx, s.d)
}

// finishWithError writes what the reconcile learnt before err stopped it, and returns err.
func (s *syncer) finishWithError(ctx context.Context, err error) error {
	if _, statusErr := s.finish(ctx, nil, false); statusErr != nil && !apierrors.IsConflict(statusErr) {
		ctrl.LoggerFrom(ctx).Error(statusErr, "Writing status after a failed sync")
	}
	return err
}

// writeRevision stores the revision annotation on the Deployment when it changed.
func (s *syncer) writeRevision(ctx context.Context) error {
	if s.revision == "" || s.d.Annotations[RevisionAnnotation] == s.revision {
		return nil
	}
	patch := client.RawPatch("application/merge-patch+json",
		fmt.Appendf(nil, `{"metadata":{"annotations":{%q:%q}}}`, RevisionAnnotation, s.revision))
	status := s.d.Status
	if err := s.Patch(ctx, s.d, patch); err != nil {
		return err
	}
	// The patch returned the stored object; keep the status this reconcile built.
	s.d.Status = status
	return nil
}

func withLabel(m map[string]string, k, v string) map[string]string {
	out := maps.Clone(m)
	if out == nil {
		out = map[string]string{}
	}
	out[k] = v
	return out
}

// equalIgnoringHash compares two pod templates, ignoring the pod-template-hash label.
func equalIgnoringHash(a, b *corev1.PodTemplateSpec) bool {
	a, b = a.DeepCopy(), b.DeepCopy()
	delete(a.Labels, PodTemplateHashLabel)
	delete(b.Labels, PodTemplateHashLabel)
	if len(a.Labels) == 0 {
		a.Labels = nil
	}
	if len(b.Labels) == 0 {
		b.Labels = nil
	}
	return apiequality.Semantic.DeepEqual(a, b)
}
