package job

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	batchv1alpha1 "github.com/kybern/kybern/api/batch/v1alpha1"
	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
	"github.com/kybern/kybern/controllers/internal/podutil"
	"github.com/kybern/kybern/controllers/internal/slowstart"
)

// manage creates or deletes pods so that the Job runs as many as it may, and returns how
// many are active afterwards. A suspended Job runs none. One reconcile either deletes or
// creates, never both.
func (r *Reconciler) manage(ctx context.Context, s *syncState) (int32, error) {
	active := int32(len(s.active))
	if suspended(s.job) {
		removed, err := r.deletePods(ctx, s, s.active, true)
		return active - removed, err
	}
	want := s.spec.parallelism
	switch {
	case s.spec.completions == nil && s.succeeded > 0:
		// A work queue stops starting pods once one succeeded; the rest finish on their own.
		want = active
	case s.spec.completions != nil:
		want = max(0, min(want, *s.spec.completions-s.succeeded))
	}
	if victims := victims(s, int(active-want)); len(victims) > 0 {
		removed, err := r.deletePods(ctx, s, victims[:min(len(victims), maxPodChangesPerSync)], true)
		return active - removed, err
	}
	waiting := int32(0)
	if onlyReplaceFailed(s.job) {
		waiting = s.terminating
	}
	diff := min(want-waiting-active, maxPodChangesPerSync)
	if diff <= 0 {
		return active, nil
	}
	if s.spec.perIndex == nil {
		if wait := s.backoff.remaining(s.now); wait > 0 {
			s.requeueWithin(wait)
			return active, nil
		}
	}
	var indexes []int
	if s.spec.indexed {
		indexes = r.indexesToStart(s, int(diff))
		diff = int32(len(indexes))
	}
	if diff == 0 {
		return active, nil
	}
	created, err := r.createPods(ctx, s, int(diff), indexes)
	return active + int32(created), err
}

// victims are the active pods to delete: in an Indexed Job, pods of an index another pod
// already holds or outside the completions; then, if more must go than that, the pods
// upstream prefers to lose first (unscheduled, pending, not ready, newest).
func victims(s *syncState, atLeast int) []*corev1alpha1.Pod {
	rest := s.active
	var out []*corev1alpha1.Pod
	if s.spec.indexed {
		// Walking from the pod to delete last keeps the best pod of each index.
		ranked := podutil.RankForDeletion(s.active, s.active, s.now)
		rest = nil
		held := map[int]bool{}
		for i := len(ranked) - 1; i >= 0; i-- {
			p := ranked[i]
			ix := completionIndex(p)
			if ix == noIndex || ix >= int(*s.spec.completions) || held[ix] {
				out = append(out, p)
				continue
			}
			held[ix] = true
			rest = append(rest, p)
		}
	}
	if n := atLeast - len(out); n > 0 {
		out = append(out, podutil.PodsToDelete(rest, s.active, n, s.now)...)
	}
	return out
}

// indexesToStart are up to n indexes that need a pod now. With backoffLimitPerIndex an
// index whose last pod failed waits out its own backoff.
func (r *Reconciler) indexesToStart(s *syncState, n int) []int {
	busy := indexesOf(s.active)
	if onlyReplaceFailed(s.job) {
		var terminating []*corev1alpha1.Pod
		for _, p := range s.pods {
			if podutil.IsTerminating(p) {
				terminating = append(terminating, p)
			}
		}
		busy = busy.Union(indexesOf(terminating))
	}
	candidates := pendingIndexes(len(busy)+n+s.succeededIx.Len()+s.failedIx.Len(), *s.spec.completions, busy, s.succeededIx, s.failedIx)
	var out []int
	for _, ix := range candidates {
		if len(out) == n {
			break
		}
		if failed, ok := s.replaced[ix]; ok {
			counted, ignored := indexFailureCounts(failed)
			rec := backoffRecord{failures: counted + ignored + 1, lastFailure: finishedAt(failed, s.now)}
			if wait := rec.remaining(s.now); wait > 0 {
				s.requeueWithin(wait)
				continue
			}
		}
		out = append(out, ix)
	}
	return out
}

// createPods creates n pods, for the given indexes when the Job is Indexed, in
// slow-start batches, and returns how many were created.
func (r *Reconciler) createPods(ctx context.Context, s *syncState, n int, indexes []int) (int, error) {
	r.expectations.ExpectCreations(s.key, n)
	var next atomic.Int32
	created, err := slowstart.Run(ctx, n, 1, func(ctx context.Context) error {
		ix := noIndex
		if indexes != nil {
			ix = indexes[next.Add(1)-1]
		}
		return r.createPod(ctx, s, ix)
	})
	for range n - created {
		r.expectations.CreationObserved(s.key)
	}
	if err != nil {
		if apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause) {
			return created, nil
		}
		return created, err
	}
	return created, nil
}

func (r *Reconciler) createPod(ctx context.Context, s *syncState, ix int) error {
	pod := newPod(s, ix)
	var done func(*corev1alpha1.Pod)
	if r.Placer != nil {
		done = r.Placer.Place(ctx, pod)
	}
	err := r.Create(ctx, pod)
	if done != nil {
		if err != nil {
			done(nil)
		} else {
			done(pod)
		}
	}
	if err != nil {
		r.Recorder.Eventf(s.job, corev1.EventTypeWarning, "FailedCreate", "Error creating: %v", err)
		return fmt.Errorf("creating a pod: %w", err)
	}
	r.Recorder.Eventf(s.job, corev1.EventTypeNormal, "SuccessfulCreate", "Created pod: %s", pod.Name)
	return nil
}

// newPod is a pod of the Job from its template, with the tracking finalizer and, for
// index ix, the index annotation, label, JOB_COMPLETION_INDEX variable, hostname
// <job>-<ix> and the failure counts inherited from the pod it replaces.
func newPod(s *syncState, ix int) *corev1alpha1.Pod {
	job := s.job
	t := job.Spec.Template.DeepCopy()
	pod := &corev1alpha1.Pod{ObjectMeta: t.ObjectMeta, Spec: t.Spec}
	pod.Name, pod.Namespace, pod.GenerateName = "", job.Namespace, job.Name+"-"
	pod.ResourceVersion, pod.UID = "", ""
	pod.Finalizers = append(pod.Finalizers, batchv1.JobTrackingFinalizer)
	pod.OwnerReferences = []metav1.OwnerReference{*metav1.NewControllerRef(job, batchv1alpha1.GroupVersion.WithKind("Job"))}
	if ix == noIndex {
		return pod
	}
	v := strconv.Itoa(ix)
	if pod.Annotations == nil {
		pod.Annotations = map[string]string{}
	}
	if pod.Labels == nil {
		pod.Labels = map[string]string{}
	}
	pod.Annotations[batchv1.JobCompletionIndexAnnotation] = v
	pod.Labels[batchv1.JobCompletionIndexAnnotation] = v
	pod.GenerateName = fmt.Sprintf("%s-%d-", job.Name, ix)
	pod.Spec.Hostname = fmt.Sprintf("%s-%d", job.Name, ix)
	indexEnv := corev1.EnvVar{Name: "JOB_COMPLETION_INDEX", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{
		FieldPath: fmt.Sprintf("metadata.annotations['%s']", batchv1.JobCompletionIndexAnnotation)}}}
	for _, list := range [][]corev1.Container{pod.Spec.InitContainers, pod.Spec.Containers} {
		for i := range list {
			list[i].Env = append(list[i].Env, indexEnv)
		}
	}
	if s.spec.perIndex != nil {
		var counted, ignored int32
		if failed, ok := s.replaced[ix]; ok {
			counted, ignored = indexFailureCounts(failed)
			if matchFailurePolicy(job.Spec.PodFailurePolicy, failed).counts {
				counted++
			} else {
				ignored++
			}
		}
		pod.Annotations[batchv1.JobIndexFailureCountAnnotation] = strconv.Itoa(int(counted))
		if ignored > 0 {
			pod.Annotations[batchv1.JobIndexIgnoredFailureCountAnnotation] = strconv.Itoa(int(ignored))
		}
	}
	return pod
}

// deletePods deletes pods concurrently and returns how many deletions were issued. With
// release, each pod first loses its tracking finalizer, uncounted: a pod the Job
// removes on its own account (scale-down, suspend) is neither a success nor a failure.
func (r *Reconciler) deletePods(ctx context.Context, s *syncState, pods []*corev1alpha1.Pod, release bool) (int32, error) {
	if len(pods) == 0 {
		return 0, nil
	}
	keys := make([]string, len(pods))
	for i, p := range pods {
		keys[i] = types.NamespacedName{Namespace: p.Namespace, Name: p.Name}.String()
	}
	r.expectations.ExpectDeletions(s.key, keys)
	var (
		mu      sync.Mutex
		errs    []error
		removed int32
		wg      sync.WaitGroup
	)
	for i, p := range pods {
		wg.Go(func() {
			err := r.deletePod(ctx, s, p, release)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				r.expectations.DeletionObserved(s.key, keys[i])
				errs = append(errs, err)
				return
			}
			removed++
			s.terminating++
			if podutil.IsReady(p) {
				s.ready--
			}
		})
	}
	wg.Wait()
	return removed, errors.Join(errs...)
}

func (r *Reconciler) deletePod(ctx context.Context, s *syncState, p *corev1alpha1.Pod, release bool) error {
	if release {
		r.finalizers.expect(s.key, p.UID)
		if err := r.removeFinalizer(ctx, p); err != nil {
			r.finalizers.observed(s.key, p.UID)
			return err
		}
	}
	if err := r.Delete(ctx, p, &client.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &p.UID}}); err != nil && !apierrors.IsNotFound(err) {
		r.Recorder.Eventf(s.job, corev1.EventTypeWarning, "FailedDelete", "Error deleting: %v", err)
		return fmt.Errorf("deleting pod %s: %w", p.Name, err)
	}
	log.FromContext(ctx).V(1).Info("Deleted pod", "pod", p.Name)
	r.Recorder.Eventf(s.job, corev1.EventTypeNormal, "SuccessfulDelete", "Deleted pod: %s", p.Name)
	return nil
}

// deleteActive stops every active pod of a finishing Job, keeping their finalizers so
// that each is counted as failed once it is gone.
func (r *Reconciler) deleteActive(ctx context.Context, s *syncState) (int32, error) {
	return r.deletePods(ctx, s, s.active, false)
}
