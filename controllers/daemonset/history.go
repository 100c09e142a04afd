package daemonset

import (
	"context"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/utils/ptr"

	appsv1alpha1 "github.com/kybern/kybern/api/apps/v1alpha1"
	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
	"github.com/kybern/kybern/controllers/internal/history"
)

// history claims ds's ControllerRevisions and returns the one that records spec, its
// current template as configsnapshot resolved it, created (or renumbered, when the
// template returns to an old one) to be the newest, and the others.
func (r *Reconciler) history(ctx context.Context, ds *appsv1alpha1.DaemonSet, selector labels.Selector, spec *corev1.PodTemplateSpec) (cur *appsv1.ControllerRevision, old []*appsv1.ControllerRevision, err error) {
	return history.Sync(ctx, r.Client, r.APIReader, history.Owner{Object: ds, GVK: gvk, Selector: selector,
		Template: spec, CollisionCount: ds.Status.CollisionCount})
}

// cleanupHistory deletes the oldest revisions beyond spec.revisionHistoryLimit, sparing
// those that pods still run and the stable and failed revisions of status.rollback.
func (r *Reconciler) cleanupHistory(ctx context.Context, ds *appsv1alpha1.DaemonSet, old []*appsv1.ControllerRevision, byNode map[string][]*corev1alpha1.Pod) error {
	live := map[string]bool{}
	for _, pods := range byNode {
		for _, p := range pods {
			live[p.Labels[RevisionHashLabel]] = true
		}
	}
	return history.Prune(ctx, r.Client, old, int(ptr.Deref(ds.Spec.RevisionHistoryLimit, 10)),
		func(rev *appsv1.ControllerRevision) bool {
			return live[rev.Labels[history.HashLabel]] || keptByRollback(ds, rev)
		})
}
