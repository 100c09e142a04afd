package statefulset

import (
	"context"
	"fmt"
	"sync/atomic"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	appsv1alpha1 "github.com/kybern/kybern/api/apps/v1alpha1"
	"github.com/kybern/kybern/controllers/internal/slowstart"
)

// templates are the pod templates of the current and the update revision.
type templates struct{ current, update *corev1.PodTemplateSpec }

// execute carries out pl: it expects its pod creations and deletions first, runs each
// stage (in order, one action at a time, under OrderedReady; in slow-start batches under
// Parallel), stops after the first stage with a failure, and stops expecting every write
// the watch will not report.
func (r *Reconciler) execute(ctx context.Context, o *observed, pl plan, t templates) error {
	key := client.ObjectKeyFromObject(o.set).String()
	var creates int
	var deletes []string
	for _, stage := range pl.stages {
		for _, a := range stage {
			switch a.kind {
			case createPod:
				creates++
			case deletePod:
				deletes = append(deletes, client.ObjectKeyFromObject(a.pod).String())
			}
		}
	}
	if creates > 0 || len(deletes) > 0 {
		r.expectations.Expect(key, creates, deletes)
	}
	var err error
	for _, stage := range pl.stages {
		if err != nil {
			r.unexpect(key, stage, make([]atomic.Bool, len(stage)))
			continue
		}
		written := make([]atomic.Bool, len(stage))
		var next atomic.Int64
		do := func(ctx context.Context) error {
			i := next.Add(1) - 1
			ok, err := r.act(ctx, o, stage[i], t)
			written[i].Store(ok)
			return err
		}
		if monotonic(o.set) {
			for range stage {
				if err = do(ctx); err != nil {
					break
				}
			}
		} else {
			_, err = slowstart.Run(ctx, len(stage), 1, do)
		}
		r.unexpect(key, stage, written)
	}
	return err
}

// unexpect stops expecting the creations and deletions of stage that were not written.
func (r *Reconciler) unexpect(key string, stage []action, written []atomic.Bool) {
	for i, a := range stage {
		if written[i].Load() {
			continue
		}
		switch a.kind {
		case createPod:
			r.expectations.CreationObserved(key)
		case deletePod:
			r.expectations.DeletionObserved(key, client.ObjectKeyFromObject(a.pod).String())
		}
	}
}

// act makes one write; written says that a pod was created or deleted, which the watch
// will report.
func (r *Reconciler) act(ctx context.Context, o *observed, a action, t templates) (written bool, err error) {
	set := o.set
	switch a.kind {
	case createPod:
		return r.createPod(ctx, o, a.ordinal, t)
	case deletePod:
		return r.deletePod(ctx, set, a, o.update)
	case updatePod:
		return false, r.updateIdentity(ctx, set, a)
	default:
		return false, r.fixClaimOwners(ctx, set, a.pod, a.ordinal, o.claims)
	}
}

// createPod creates the claims of ordinal, then its pod from the revision its index
// calls for.
func (r *Reconciler) createPod(ctx context.Context, o *observed, ordinal int, t templates) (bool, error) {
	set := o.set
	if err := r.createClaims(ctx, set, ordinal, o.claims); err != nil {
		return false, err
	}
	template, revision := t.update, o.update
	if !wantsUpdate(set, ordinal-startOrdinal(set)) {
		template, revision = t.current, o.current
	}
	pod := newPod(set, template, revision, ordinal)
	log.FromContext(ctx).V(1).Info("Creating pod", "pod", pod.Name, "revision", revision)
	if err := r.Create(ctx, pod); err != nil {
		// A terminating namespace refuses every create; its deletion will remove set too.
		if apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause) {
			return false, nil
		}
		r.Recorder.Eventf(set, corev1.EventTypeWarning, "FailedCreate", "Error creating pod %s: %v", pod.Name, err)
		return false, fmt.Errorf("creating pod %s: %w", pod.Name, err)
	}
	r.Recorder.Eventf(set, corev1.EventTypeNormal, "SuccessfulCreate", "Created pod: %s", pod.Name)
	return true, nil
}

// deletePod deletes the very pod read (by UID); a pod already gone or replaced is no
// failure. A deletion that replaces a pod says why in an event of its own.
func (r *Reconciler) deletePod(ctx context.Context, set *appsv1alpha1.StatefulSet, a action, update string) (bool, error) {
	p := a.pod
	switch a.reason {
	case ReasonRecreatingFailedPod:
		r.Recorder.Eventf(set, corev1.EventTypeWarning, a.reason, "Pod %s has terminated (phase %s); deleting it to recreate it", p.Name, p.Status.Phase)
	case ReasonRecreatingUnhealthyPod:
		r.Recorder.Eventf(set, corev1.EventTypeNormal, a.reason,
			"Pod %s is not Running and Ready and runs revision %s, not update revision %s; deleting it to recreate it at the update revision",
			p.Name, p.Labels[RevisionHashLabel], update)
	}
	log.FromContext(ctx).V(1).Info("Deleting pod", "pod", p.Name, "reason", a.reason)
	err := r.Delete(ctx, p, client.Preconditions{UID: &p.UID})
	switch {
	case err == nil:
		r.Recorder.Eventf(set, corev1.EventTypeNormal, "SuccessfulDelete", "Deleted pod: %s", p.Name)
		return true, nil
	case apierrors.IsNotFound(err) || apierrors.IsConflict(err):
		return false, nil
	default:
		r.Recorder.Eventf(set, corev1.EventTypeWarning, "FailedDelete", "Error deleting pod %s: %v", p.Name, err)
		return false, fmt.Errorf("deleting pod %s: %w", p.Name, err)
	}
}

// updateIdentity gives a pod the labels and volumes of its ordinal. A pod changed since it
// was read is left for the reconcile its watch event brings.
func (r *Reconciler) updateIdentity(ctx context.Context, set *appsv1alpha1.StatefulSet, a action) error {
	p := a.pod.DeepCopy()
	setIdentity(p, a.ordinal)
	setStorage(set, p, a.ordinal)
	log.FromContext(ctx).V(1).Info("Restoring pod identity", "pod", p.Name)
	if err := r.Update(ctx, p); err != nil && !apierrors.IsConflict(err) && !apierrors.IsNotFound(err) {
		r.Recorder.Eventf(set, corev1.EventTypeWarning, "FailedUpdate", "Error updating pod %s: %v", p.Name, err)
		return fmt.Errorf("updating pod %s: %w", p.Name, err)
	}
	return nil
}
