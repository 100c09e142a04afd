// Package history keeps a controller's template history in native ControllerRevisions, as
// upstream's controller history does for DaemonSets and StatefulSets: one revision per
// distinct pod template, named <owner>-<hash>, numbered so that the newest is current.
package history

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"sort"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/kybern/kybern/controllers/internal/claim"
	"github.com/kybern/kybern/controllers/internal/podutil"
)

// HashLabel is the label on a revision that holds the hash in its name.
const HashLabel = appsv1.ControllerRevisionHashLabelKey

// RevisionGVK is the kind of the revisions.
var RevisionGVK = appsv1.SchemeGroupVersion.WithKind("ControllerRevision")

// ErrHashCollision reports that the name of the current template's revision is taken by a
// revision of another template; the caller bumps status.collisionCount and retries.
var ErrHashCollision = errors.New("hash collision: a ControllerRevision of another template has this name")

// Owner is the controller whose template history is kept.
type Owner struct {
	// Object is the controller object as the cache shows it.
	Object client.Object
	// GVK is Object's kind, for the controllerRef.
	GVK schema.GroupVersionKind
	// Selector picks the revisions Object claims; revisions carry the template's labels.
	Selector labels.Selector
	// Template is Object's current pod template.
	Template *corev1.PodTemplateSpec
	// CollisionCount is Object's status.collisionCount, which salts the hash.
	CollisionCount *int32
}

// Sync claims owner's ControllerRevisions and returns the one that records its current
// template, created (or renumbered, when the template returns to an old one) to be the
// newest, and the others. c reads from the cache and writes; fresh reads the apiserver,
// to confirm owner before adopting and to look at a revision whose name is taken.
func Sync(ctx context.Context, c client.Client, fresh client.Reader, owner Owner) (cur *appsv1.ControllerRevision, old []*appsv1.ControllerRevision, err error) {
	var list appsv1.ControllerRevisionList
	if err := c.List(ctx, &list, client.InNamespace(owner.Object.GetNamespace())); err != nil {
		return nil, nil, err
	}
	revs := make([]*appsv1.ControllerRevision, len(list.Items))
	for i := range list.Items {
		revs[i] = &list.Items[i]
	}
	owned, err := claim.Claim(ctx, claim.Owner{Object: owner.Object, GVK: owner.GVK, Selector: owner.Selector, Writer: c, Fresh: fresh}, revs)
	if err != nil {
		return nil, nil, err
	}
	patch, err := Patch(owner.Template)
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
		cur, err = snapshot(ctx, c, fresh, owner, patch, next)
	case cur.Revision < next:
		cur.Revision = next
		err = c.Update(ctx, cur)
	}
	return cur, old, err
}

// snapshot creates the revision <owner>-<hash> of owner's template. A revision of that
// name recording the same template is taken as it is; one recording another is a collision.
func snapshot(ctx context.Context, c client.Client, fresh client.Reader, owner Owner, patch []byte, revision int64) (*appsv1.ControllerRevision, error) {
	hash := podutil.TemplateHash(owner.Template, owner.CollisionCount)
	rev := &appsv1.ControllerRevision{
		ObjectMeta: metav1.ObjectMeta{
			Name:            owner.Object.GetName() + "-" + hash,
			Namespace:       owner.Object.GetNamespace(),
			Labels:          labels.Merge(owner.Template.Labels, labels.Set{HashLabel: hash}),
			Annotations:     maps.Clone(owner.Object.GetAnnotations()),
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(owner.Object, owner.GVK)},
		},
		Data:     runtime.RawExtension{Raw: patch},
		Revision: revision,
	}
	err := c.Create(ctx, rev)
	if !apierrors.IsAlreadyExists(err) {
		return rev, err
	}
	existing := &appsv1.ControllerRevision{}
	if err := fresh.Get(ctx, client.ObjectKeyFromObject(rev), existing); err != nil {
		return nil, err
	}
	if bytes.Equal(existing.Data.Raw, patch) {
		return existing, nil
	}
	return nil, ErrHashCollision
}

// Prune deletes the oldest of revs, sparing those live reports as still in use, until at
// most keep remain or only live ones are left. With revs numbered 1 to 5, keep 2 and 2
// live: 1 and 3 go when 2 is live, leaving 2, 4 and 5 (two of them not live would be 4, 5).
func Prune(ctx context.Context, c client.Writer, revs []*appsv1.ControllerRevision, keep int, live func(*appsv1.ControllerRevision) bool) error {
	excess := len(revs) - keep
	if excess <= 0 {
		return nil
	}
	sort.Slice(revs, func(i, j int) bool { return revs[i].Revision < revs[j].Revision })
	for _, rev := range revs {
		if excess == 0 {
			break
		}
		if live(rev) {
			continue
		}
		log.FromContext(ctx).V(1).Info("Deleting old revision", "revision", rev.Name)
		if err := c.Delete(ctx, rev); client.IgnoreNotFound(err) != nil {
			return fmt.Errorf("deleting revision %s: %w", rev.Name, err)
		}
		excess--
	}
	return nil
}

// Patch is what a revision records: a strategic merge patch that puts template back,
// {"spec":{"template":{…,"$patch":"replace"}}}, as upstream's, so that kubectl rollout undo
// reads it. Keys are sorted, so equal templates give equal bytes.
func Patch(template *corev1.PodTemplateSpec) ([]byte, error) {
	raw, err := json.Marshal(template)
	if err != nil {
		return nil, err
	}
	var t map[string]any
	if err := json.Unmarshal(raw, &t); err != nil {
		return nil, err
	}
	t["$patch"] = "replace"
	return json.Marshal(map[string]any{"spec": map[string]any{"template": t}})
}

// Template is the pod template rev records. The patch replaces the whole template, so
// applying it to any owner gives back exactly what it holds.
func Template(rev *appsv1.ControllerRevision) (*corev1.PodTemplateSpec, error) {
	var patch struct {
		Spec struct {
			Template corev1.PodTemplateSpec `json:"template"`
		} `json:"spec"`
	}
	if err := json.Unmarshal(rev.Data.Raw, &patch); err != nil {
		return nil, fmt.Errorf("decoding revision %s: %w", rev.Name, err)
	}
	return &patch.Spec.Template, nil
}

func maxRevision(revs []*appsv1.ControllerRevision) int64 {
	var n int64
	for _, r := range revs {
		n = max(n, r.Revision)
	}
	return n
}

// Named is the revision among cur and old named name; nil for none or for "".
func Named(name string, cur *appsv1.ControllerRevision, old []*appsv1.ControllerRevision) *appsv1.ControllerRevision {
	if name == "" {
		return nil
	}
	for _, r := range append([]*appsv1.ControllerRevision{cur}, old...) {
		if r != nil && r.Name == name {
			return r
		}
	}
	return nil
}
