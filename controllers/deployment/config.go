package deployment

import (
	"context"

	appsv1alpha1 "github.com/kybern/kybern/api/apps/v1alpha1"
	"github.com/kybern/kybern/controllers/internal/configsnapshot"
)

// resolveTemplate sets the template that spec.template stands for: itself, or, with
// configPolicy Snapshot, its copy that reads configuration snapshots, so that an edit of
// a ConfigMap or Secret gives a new ReplicaSet as a template change does.
func (s *syncer) resolveTemplate(ctx context.Context) error {
	t, snaps, err := s.Snapshots.Resolve(ctx, s.Recorder, configsnapshot.Workload{Object: s.d,
		GVK: appsv1alpha1.GroupVersion.WithKind("Deployment"), Policy: s.d.Spec.ConfigPolicy, Template: &s.d.Spec.Template})
	if err != nil {
		return err
	}
	s.spec, s.target, s.snaps = t, t, snaps
	return nil
}

// ownSnapshots hands the snapshots of the resolved template to rs, its ReplicaSet, so
// that they are collected with it.
func (s *syncer) ownSnapshots(ctx context.Context, rs *appsv1alpha1.ReplicaSet) error {
	return s.Snapshots.HandTo(ctx, s.d, s.snaps, rs, appsv1alpha1.GroupVersion.WithKind("ReplicaSet"))
}
