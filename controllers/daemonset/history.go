package daemonset

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"sort"

	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	appsv1alpha1 "github.com/kybern/kybern/api/apps/v1alpha1"
	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
	"github.com/kybern/kybern/controllers/internal/claim"
	"github.com/kybern/kybern/controllers/internal/podutil"
)

// errHashCollision reports that the name of the current template's revision is taken by a
// revision of another template; the caller bumps status.collisionCount and retries.
var errHashCollision = errors.New("hash collision: a ControllerRevision of another template has this name")

// history claims ds's ControllerRevisions and returns the one that records its current
// template, created (or renumbered, when the template returns to an old one) to be the
// newest, and the others.
func (r *Reconciler) history(ctx context.Context, ds *appsv1alpha1.DaemonSet, selector labels.Selector) (cur *appsv1.ControllerRevision, old []*appsv1.ControllerRevision, err error) {
	var list appsv1.ControllerRevisionList
	if err := r.List(ctx, &list, client.InNamespace(ds.Namespace)); err != nil {
		return nil, nil, err
	}
	owned, err := claim.Claim(ctx, claim.Owner{Object: ds, GVK: gvk, Selector: selector, Writer: r.Client, Fresh: r.APIReader}, ptrs(list.Items))
	if err != nil {
		return nil, nil, err
	}
	patch, err := templatePatch(ds)
	if err != nil {
		return nil, nil, err
	}
	for _, rev := range owned {
		// Should a race have recorded the template twice, the highest revision is current.
		if bytes.Equal(rev.Data.Raw, patch) && (cur == nil || rev.Revision > cur.Revision) {
			if cur != nil {
				old = append(old, cur)
			}
			cur = rev
			continue
		}
		old = append(old, rev)
	}
	next := maxRevision(old) + 1
	switch {
	case cur == nil:
		cur, err = r.snapshot(ctx, ds, patch, next)
	case cur.Revision < next:
		cur.Revision = next
		err = r.Update(ctx, cur)
	}
	return cur, old, err
}

// snapshot creates the revision <ds>-<hash> of ds's template. A revision of that name
// recording the same template is taken as it is; one recording another is a collision.
func (r *Reconciler) snapshot(ctx context.Context, ds *appsv1alpha1.DaemonSet, patch []byte, revision int64) (*appsv1.ControllerRevision, error) {
	hash := podutil.TemplateHash(&ds.Spec.Template, ds.Status.CollisionCount)
	rev := &appsv1.ControllerRevision{
		ObjectMeta: metav1.ObjectMeta{
			Name:            ds.Name + "-" + hash,
			Namespace:       ds.Namespace,
			Labels:          labels.Merge(ds.Spec.Template.Labels, labels.Set{RevisionHashLabel: hash}),
			Annotations:     maps.Clone(ds.Annotations),
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(ds, gvk)},
		},
		Data:     runtime.RawExtension{Raw: patch},
		Revision: revision,
	}
	err := r.Create(ctx, rev)
	if !apierrors.IsAlreadyExists(err) {
		return rev, err
	}
	existing := &appsv1.ControllerRevision{}
	if err := r.APIReader.Get(ctx, client.ObjectKeyFromObject(rev), existing); err != nil {
		return nil, err
	}
	if bytes.Equal(existing.Data.Raw, patch) {
		return existing, nil
	}
	return nil, errHashCollision
}

// cleanupHistory deletes the oldest revisions beyond spec.revisionHistoryLimit, sparing
// those that pods still run.
func (r *Reconciler) cleanupHistory(ctx context.Context, ds *appsv1alpha1.DaemonSet, old []*appsv1.ControllerRevision, byNode map[string][]*corev1alpha1.Pod) error {
	excess := len(old) - int(ptr.Deref(ds.Spec.RevisionHistoryLimit, 10))
	if excess <= 0 {
		return nil
	}
	live := map[string]bool{}
	for _, pods := range byNode {
		for _, p := range pods {
			live[p.Labels[RevisionHashLabel]] = true
		}
	}
	sort.Slice(old, func(i, j int) bool { return old[i].Revision < old[j].Revision })
	for _, rev := range old {
		if excess == 0 {
			break
		}
		if live[rev.Labels[RevisionHashLabel]] {
			continue
		}
		log.FromContext(ctx).V(1).Info("Deleting old revision", "revision", rev.Name)
		if err := r.Delete(ctx, rev); client.IgnoreNotFound(err) != nil {
			return fmt.Errorf("deleting revision %s: %w", rev.Name, err)
		}
		excess--
	}
	return nil
}

// templatePatch is what a revision records: a strategic merge patch that puts ds's
// template back, {"spec":{"template":{…,"$patch":"replace"}}}, as upstream's, so that
// kubectl rollout undo reads it. Keys are sorted, so equal templates give equal bytes.
func templatePatch(ds *appsv1alpha1.DaemonSet) ([]byte, error) {
	raw, err := json.Marshal(ds.Spec.Template)
	if err != nil {
		return nil, err
	}
	var template map[string]any
	if err := json.Unmarshal(raw, &template); err != nil {
		return nil, err
	}
	template["$patch"] = "replace"
	return json.Marshal(map[string]any{"spec": map[string]any{"template": template}})
}

func maxRevision(revs []*appsv1.ControllerRevision) int64 {
	var n int64
	for _, r := range revs {
		n = max(n, r.Revision)
	}
	return n
}
