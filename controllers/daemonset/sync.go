package daemonset

import (
	"context"
	"errors"
	"strconv"
	"sync/atomic"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	appsv1alpha1 "github.com/kybern/kybern/api/apps/v1alpha1"
	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
	"github.com/kybern/kybern/controllers/internal/slowstart"
)

// BurstReplicas caps the pods one reconcile creates, and those it deletes, as upstream's
// DaemonSet controller.
const BurstReplicas = 250

// syncNodes carries out pl, creating pods of template, the revision named hash: it
// expects its writes first, creates pods in slow-start batches and deletes at once, and
// stops expecting whatever did not happen.
func (r *Reconciler) syncNodes(ctx context.Context, ds *appsv1alpha1.DaemonSet, pl plan, template *corev1.PodTemplateSpec, hash string) error {
	if pl.empty() {
		return nil
	}
	key := client.ObjectKeyFromObject(ds).String()
	creates := pl.create[:min(len(pl.create), BurstReplicas)]
	deletes := pl.delete[:min(len(pl.delete), BurstReplicas)]
	keys := make([]string, len(deletes))
	for i, p := range deletes {
		keys[i] = client.ObjectKeyFromObject(p).String()
	}
	r.expectations.Expect(key, len(creates), keys)
	log.FromContext(ctx).V(1).Info("Syncing nodes", "creating", len(creates), "deleting", len(deletes))

	podT := podTemplate(ds, template, hash)
	var nextCreate atomic.Int64
	created, createErr := slowstart.Run(ctx, len(creates), 1, func(ctx context.Context) error {
		return r.createPod(ctx, ds, podT, creates[nextCreate.Add(1)-1])
	})
	// Pods never created will never be observed: stop expecting them.
	for range len(creates) - created {
		r.expectations.CreationObserved(key)
	}
	var nextDelete atomic.Int64
	_, deleteErr := slowstart.Run(ctx, len(deletes), len(deletes), func(ctx context.Context) error {
		i := nextDelete.Add(1) - 1
		err := r.deletePod(ctx, ds, deletes[i])
		if err == nil {
			return nil
		}
		// The watch will not report a deletion that did not happen now.
		r.expectations.DeletionObserved(key, keys[i])
		return client.IgnoreNotFound(err)
	})
	return errors.Join(createErr, deleteErr)
}

// podTemplate is the template of ds's pods: template, its own or a revision's, with the
// daemon tolerations and the labels that name the revision and generation.
func podTemplate(ds *appsv1alpha1.DaemonSet, template *corev1.PodTemplateSpec, hash string) *corev1.PodTemplateSpec {
	t := template.DeepCopy()
	addDaemonTolerations(&t.Spec)
	t.Labels = labels.Merge(t.Labels, labels.Set{TemplateGenerationLabel: strconv.FormatInt(ds.Generation, 10), RevisionHashLabel: hash})
	return t
}

// createPod creates a pod of template for node: unbound, with required node affinity on
// the node's name, so that the scheduler binds it there and nowhere else.
func (r *Reconciler) createPod(ctx context.Context, ds *appsv1alpha1.DaemonSet, template *corev1.PodTemplateSpec, node string) error {
	t := template.DeepCopy()
	pod := &corev1alpha1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			GenerateName:    ds.Name + "-",
			Namespace:       ds.Namespace,
			Labels:          t.Labels,
			Annotations:     t.Annotations,
			Finalizers:      t.Finalizers,
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(ds, gvk)},
		},
		Spec: t.Spec,
	}
	pod.Spec.Affinity = targetNodeAffinity(pod.Spec.Affinity, node)
	if err := r.Create(ctx, pod); err != nil {
		// A terminating namespace refuses every create; its deletion will remove ds too.
		if apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause) {
			return nil
		}
		r.Recorder.Eventf(ds, corev1.EventTypeWarning, "FailedCreate", "Error creating: %v", err)
		return err
	}
	r.Recorder.Eventf(ds, corev1.EventTypeNormal, "SuccessfulCreate", "Created pod: %s", pod.Name)
	return nil
}

// deletePod deletes p, the very pod read (by UID), and returns the apiserver's error,
// NotFound included; only a real failure is an event.
func (r *Reconciler) deletePod(ctx context.Context, ds *appsv1alpha1.DaemonSet, p *corev1alpha1.Pod) error {
	err := r.Delete(ctx, p, client.Preconditions{UID: &p.UID})
	switch {
	case err == nil:
		r.Recorder.Eventf(ds, corev1.EventTypeNormal, "SuccessfulDelete", "Deleted pod: %s", p.Name)
	case !apierrors.IsNotFound(err):
		r.Recorder.Eventf(ds, corev1.EventTypeWarning, "FailedDelete", "Error deleting: %v", err)
	}
	return err
}
