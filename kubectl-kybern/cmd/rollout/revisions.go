package rollout

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	appsv1alpha1 "github.com/kybern/kybern/api/apps/v1alpha1"
	"github.com/kybern/kybern/kubectl-kybern/cmd/cli"
)

// changeCauseAnnotation records why a revision was made; history lists it.
const changeCauseAnnotation = "kubernetes.io/change-cause"

// revision is one entry of a workload's rollout history.
type revision struct {
	number int64
	// template is the pod template the revision ran; a ReplicaSet's carries its
	// pod-template-hash label.
	template *corev1.PodTemplateSpec
	// rawTemplate is template as the API server returned it, fields this plugin does not
	// know included, for undo to write back.
	rawTemplate map[string]any
	// annotations are those of the object recording the revision.
	annotations map[string]string
	// replicaSet is the ReplicaSet recording a Deployment's revision, nil for a
	// ControllerRevision.
	replicaSet *unstructured.Unstructured
}

func (r *revision) changeCause() string { return r.annotations[changeCauseAnnotation] }

// history reads the rollout history of t: for a Deployment the ReplicaSets it controls,
// numbered by their deployment.kubernetes.io/revision annotation; for a StatefulSet or
// DaemonSet the ControllerRevisions it controls. Both are found through the owner's
// selector and kept only when their controllerRef is the owner. The result is sorted by
// revision; where two record the same number, as upstream, the later listed wins.
func history(ctx context.Context, c client.Reader, t cli.Target) ([]*revision, error) {
	selector, err := selectorOf(t.Object)
	if err != nil {
		return nil, err
	}
	var revs []*revision
	switch t.Kind {
	case cli.Deployment:
		revs, err = replicaSetRevisions(ctx, c, t.Object, selector)
	case cli.StatefulSet, cli.DaemonSet:
		revs, err = controllerRevisions(ctx, c, t.Object, selector)
	default:
		return nil, fmt.Errorf("no history viewer has been implemented for %q", t.Kind.GVK.GroupKind())
	}
	if err != nil {
		return nil, err
	}
	byNumber := map[int64]*revision{}
	for _, r := range revs {
		byNumber[r.number] = r
	}
	out := make([]*revision, 0, len(byNumber))
	for _, r := range byNumber {
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b *revision) int { return cmp.Compare(a.number, b.number) })
	return out, nil
}

func selectorOf(obj *unstructured.Unstructured) (labels.Selector, error) {
	raw, _, err := unstructured.NestedMap(obj.Object, "spec", "selector")
	if err != nil {
		return nil, fmt.Errorf("reading spec.selector of %s %q: %w", obj.GetKind(), obj.GetName(), err)
	}
	ls := &metav1.LabelSelector{}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(raw, ls); err != nil {
		return nil, fmt.Errorf("decoding spec.selector of %s %q: %w", obj.GetKind(), obj.GetName(), err)
	}
	return metav1.LabelSelectorAsSelector(ls)
}

func replicaSetRevisions(ctx context.Context, c client.Reader, d *unstructured.Unstructured, selector labels.Selector) ([]*revision, error) {
	list := &unstructured.UnstructuredList{}
	list.SetGroupVersionKind(appsv1alpha1.GroupVersion.WithKind("ReplicaSetList"))
	if err := c.List(ctx, list, client.InNamespace(d.GetNamespace()), client.MatchingLabelsSelector{Selector: selector}); err != nil {
		return nil, fmt.Errorf("failed to retrieve replica sets from deployment %s: %w", d.GetName(), err)
	}
	var out []*revision
	for i := range list.Items {
		u := &list.Items[i]
		if !metav1.IsControlledBy(u, d) {
			continue
		}
		n, err := strconv.ParseInt(u.GetAnnotations()[revisionAnnotation], 10, 64)
		if err != nil {
			// Not (yet) numbered by the Deployment controller: not part of the history.
			continue
		}
		rs := &appsv1alpha1.ReplicaSet{}
		if err := fromUnstructured(u, rs); err != nil {
			return nil, err
		}
		raw, _, _ := unstructured.NestedMap(u.Object, "spec", "template")
		out = append(out, &revision{number: n, template: &rs.Spec.Template, rawTemplate: raw, annotations: u.GetAnnotations(), replicaSet: u})
	}
	return out, nil
}

func controllerRevisions(ctx context.Context, c client.Reader, owner *unstructured.Unstructured, selector labels.Selector) ([]*revision, error) {
	list := &appsv1.ControllerRevisionList{}
	if err := c.List(ctx, list, client.InNamespace(owner.GetNamespace()), client.MatchingLabelsSelector{Selector: selector}); err != nil {
		return nil, fmt.Errorf("unable to find history controlled by %s %s: %w", owner.GetKind(), owner.GetName(), err)
	}
	var out []*revision
	for i := range list.Items {
		cr := &list.Items[i]
		if !metav1.IsControlledBy(cr, owner) {
			continue
		}
		raw, template, err := revisionTemplate(cr)
		if err != nil {
			return nil, err
		}
		out = append(out, &revision{number: cr.Revision, template: template, rawTemplate: raw, annotations: cr.Annotations})
	}
	return out, nil
}

// revisionTemplate decodes the pod template a ControllerRevision records. Its data is the
// patch upstream's and kybern's controllers write, {"spec":{"template":{...,
// "$patch":"replace"}}}, which replaces the owner's whole template: the template without
// the directive is what the revision ran.
func revisionTemplate(cr *appsv1.ControllerRevision) (map[string]any, *corev1.PodTemplateSpec, error) {
	var data map[string]any
	if err := json.Unmarshal(cr.Data.Raw, &data); err != nil {
		return nil, nil, fmt.Errorf("unable to parse history %s: %w", cr.Name, err)
	}
	raw, found, err := unstructured.NestedMap(data, "spec", "template")
	if err != nil || !found {
		return nil, nil, fmt.Errorf("unable to parse history %s: its data holds no spec.template", cr.Name)
	}
	delete(raw, "$patch")
	template := &corev1.PodTemplateSpec{}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(raw, template); err != nil {
		return nil, nil, fmt.Errorf("unable to parse history %s: %w", cr.Name, err)
	}
	return raw, template, nil
}

// findRevision returns the revision numbered n among revs (sorted by number), or with n 0
// the one before the latest, which undo goes back to by default.
func findRevision(k *cli.Kind, name string, revs []*revision, n int64) (*revision, error) {
	if n < 0 {
		return nil, revisionNotFound(n)
	}
	if n == 0 {
		if len(revs) < 2 {
			if k == cli.Deployment {
				return nil, fmt.Errorf("no rollout history found for deployment %q", name)
			}
			return nil, errors.New("no last revision to roll back to")
		}
		return revs[len(revs)-2], nil
	}
	for _, r := range revs {
		if r.number == n {
			return r, nil
		}
	}
	return nil, revisionNotFound(n)
}

func revisionNotFound(n int64) error {
	return fmt.Errorf("unable to find specified revision %d in history", n)
}
