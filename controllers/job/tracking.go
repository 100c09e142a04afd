package job

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/sets"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
)

func hasTrackingFinalizer(p *corev1alpha1.Pod) bool {
	return slices.Contains(p.Finalizers, batchv1.JobTrackingFinalizer)
}

// finalizerExpectations are, per Job, the pods whose tracking finalizer the controller
// removed but whose update the cache has not shown yet. Such a pod was counted already:
// a stale copy that still shows the finalizer must not be counted again.
type finalizerExpectations struct {
	mu   sync.Mutex
	uids map[string]sets.Set[types.UID]
}

func newFinalizerExpectations() *finalizerExpectations {
	return &finalizerExpectations{uids: map[string]sets.Set[types.UID]{}}
}

func (f *finalizerExpectations) expect(key string, uid types.UID) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.uids[key] == nil {
		f.uids[key] = sets.New[types.UID]()
	}
	f.uids[key].Insert(uid)
}

func (f *finalizerExpectations) observed(key string, uid types.UID) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if s := f.uids[key]; s != nil {
		s.Delete(uid)
		if s.Len() == 0 {
			delete(f.uids, key)
		}
	}
}

func (f *finalizerExpectations) pending(key string) sets.Set[types.UID] {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.uids[key].Clone()
}

func (f *finalizerExpectations) forget(key string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.uids, key)
}

// tracked reports whether pod still waits to be counted: it has the finalizer, its
// removal is not under way, and, in an Indexed Job, its index is one of the Job's.
func (s *syncState) tracked(p *corev1alpha1.Pod) bool {
	if !hasTrackingFinalizer(p) || s.removing.Has(p.UID) {
		return false
	}
	return !s.spec.indexed || validIndex(p, *s.spec.completions)
}

// newlyFinished are the tracked pods that finished and are not yet in
// status.uncountedTerminatedPods.
func (r *Reconciler) newlyFinished(s *syncState) (succeeded, failed []*corev1alpha1.Pod) {
	for _, p := range s.pods {
		if !s.tracked(p) {
			continue
		}
		switch {
		case p.Status.Phase == corev1.PodSucceeded && !s.uncountedSucceeded.Has(p.UID):
			succeeded = append(succeeded, p)
		case podFailed(p, s.job) && !s.uncountedFailed.Has(p.UID):
			failed = append(failed, p)
		}
	}
	return succeeded, failed
}

// failedIndexes are the indexes failed for good: those in status.failedIndexes and those
// whose latest pod failed with backoffLimitPerIndex used up, or matched a FailIndex rule.
func (r *Reconciler) failedIndexes(s *syncState) sets.Set[int] {
	completions := *s.spec.completions
	out := sets.New[int]()
	if f := s.job.Status.FailedIndexes; f != nil {
		out = parseIndexes(*f, completions)
	}
	for _, p := range s.pods {
		if !s.tracked(p) || !podFailed(p, s.job) {
			continue
		}
		v := matchFailurePolicy(s.job.Spec.PodFailurePolicy, p)
		counted, _ := indexFailureCounts(p)
		if (v.action != nil && *v.action == batchv1.PodFailurePolicyActionFailIndex) || (v.counts && counted >= *s.spec.perIndex) {
			out.Insert(completionIndex(p))
		}
	}
	return out
}

// awaitingReplacement is, per index still to be retried, its latest failed pod when no
// newer pod of the index exists: that pod keeps its finalizer until its replacement is
// created with the failure count it carries.
func (r *Reconciler) awaitingReplacement(s *syncState) map[int]*corev1alpha1.Pod {
	latest := map[int]*corev1alpha1.Pod{}
	for _, p := range s.pods {
		ix := completionIndex(p)
		if ix == noIndex || ix >= int(*s.spec.completions) || s.succeededIx.Has(ix) || s.failedIx.Has(ix) {
			continue
		}
		if l, ok := latest[ix]; !ok || p.CreationTimestamp.After(l.CreationTimestamp.Time) {
			latest[ix] = p
		}
	}
	out := map[int]*corev1alpha1.Pod{}
	for ix, p := range latest {
		if podFailed(p, s.job) && s.tracked(p) {
			out[ix] = p
		}
	}
	return out
}

// canRelease reports whether a tracked pod's finalizer may go now: the Job is being
// deleted or is finishing, the pod succeeded, or it failed and is not waiting to hand its
// failure count to a replacement.
func (s *syncState) canRelease(p *corev1alpha1.Pod, failed bool) bool {
	if s.job.DeletionTimestamp != nil || s.finish != nil || p.Status.Phase == corev1.PodSucceeded {
		return true
	}
	if !failed {
		return false
	}
	if r, ok := s.replaced[completionIndex(p)]; ok && r.UID == p.UID {
		return false
	}
	return true
}

// removeFinalizers takes the tracking finalizer off pods concurrently and returns the
// UIDs it is gone from, a pod already deleted included.
func (r *Reconciler) removeFinalizers(ctx context.Context, key string, pods []*corev1alpha1.Pod) (sets.Set[types.UID], error) {
	var (
		mu   sync.Mutex
		done = sets.New[types.UID]()
		errs []error
		wg   sync.WaitGroup
	)
	for _, p := range pods {
		r.finalizers.expect(key, p.UID)
		wg.Go(func() {
			err := r.removeFinalizer(ctx, p)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				r.finalizers.observed(key, p.UID)
				errs = append(errs, err)
				return
			}
			done.Insert(p.UID)
		})
	}
	wg.Wait()
	return done, errors.Join(errs...)
}

// removeFinalizer patches the tracking finalizer away, with the pod's resourceVersion so
// that finalizers others added meanwhile are not lost. A pod already gone counts as done.
func (r *Reconciler) removeFinalizer(ctx context.Context, p *corev1alpha1.Pod) error {
	if !hasTrackingFinalizer(p) {
		return nil
	}
	patched := p.DeepCopy()
	patched.Finalizers = slices.DeleteFunc(patched.Finalizers, func(f string) bool { return f == batchv1.JobTrackingFinalizer })
	err := r.Patch(ctx, patched, client.MergeFromWithOptions(p, client.MergeFromWithOptimisticLock{}))
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("removing the tracking finalizer of pod %s: %w", p.Name, err)
	}
	log.FromContext(ctx).V(1).Info("Removed the tracking finalizer", "pod", p.Name)
	return nil
}
