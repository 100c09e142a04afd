package replicaset

import (
	"context"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	appsv1alpha1 "github.com/kybern/kybern/api/apps/v1alpha1"
	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
	"github.com/kybern/kybern/controllers/internal/podutil"
	"github.com/kybern/kybern/controllers/internal/slowstart"
)

// manageReplicas creates or deletes pods so that rs has spec.replicas of them. pods are
// the active pods rs controls; namespacePods are all active pods of its namespace, from
// which the pods of its Deployment's other ReplicaSets rank victims.
func (r *Reconciler) manageReplicas(ctx context.Context, rs *appsv1alpha1.ReplicaSet, pods, namespacePods []*corev1alpha1.Pod) error {
	key := client.ObjectKeyFromObject(rs).String()
	diff := len(pods) - int(replicas(rs))
	switch {
	case diff < 0:
		n := min(-diff, BurstReplicas)
		log.FromContext(ctx).V(1).Info("Creating pods", "want", replicas(rs), "have", len(pods), "creating", n)
		r.expectations.ExpectCreations(key, n)
		created, err := slowstart.Run(ctx, n, 1, func(ctx context.Context) error { return r.createPod(ctx, rs) })
		// Pods never created will never be observed: stop expecting them.
		for range n - created {
			r.expectations.CreationObserved(key)
		}
		return err
	case diff > 0:
		n := min(diff, BurstReplicas)
		victims := podutil.PodsToDelete(pods, r.relatedPods(ctx, rs, pods, namespacePods), n, r.Clock.Now())
		log.FromContext(ctx).V(1).Info("Deleting pods", "want", replicas(rs), "have", len(pods), "deleting", len(victims))
		keys := make([]string, len(victims))
		for i, p := range victims {
			keys[i] = client.ObjectKeyFromObject(p).String()
		}
		r.expectations.ExpectDeletions(key, keys)
		return r.deletePods(ctx, rs, key, victims)
	}
	return nil
}

func (r *Reconciler) deletePods(ctx context.Context, rs *appsv1alpha1.ReplicaSet, key string, victims []*corev1alpha1.Pod) error {
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	for _, p := range victims {
		wg.Go(func() {
			err := r.Delete(ctx, p)
			if err == nil {
				r.Recorder.Eventf(rs, "Normal", "SuccessfulDelete", "Deleted pod: %s", p.Name)
				return
			}
			// The watch will not report a deletion that did not happen.
			r.expectations.DeletionObserved(key, client.ObjectKeyFromObject(p).String())
			if apierrors.IsNotFound(err) {
				return
			}
			r.Recorder.Eventf(rs, "Warning", "FailedDelete", "Error deleting: %v", err)
			mu.Lock()
			errs = append(errs, err)
			mu.Unlock()
		})
	}
	wg.Wait()
	if len(errs) > 0 {
		return errs[0]
	}
	return nil
}

func (r *Reconciler) createPod(ctx context.Context, rs *appsv1alpha1.ReplicaSet) error {
	pod := newPod(rs)
	placed := func(*corev1alpha1.Pod) {}
	if r.Placer != nil {
		placed = r.Placer.Place(ctx, pod)
	}
	if err := r.Create(ctx, pod); err != nil {
		placed(nil)
		// A terminating namespace refuses every create; its deletion will remove rs too.
		if apierrors.HasStatusCause(err, "NamespaceTerminating") {
			return nil
		}
		r.Recorder.Eventf(rs, "Warning", ReasonFailedCreate, "Error creating: %v", err)
		return err
	}
	placed(pod)
	r.Recorder.Eventf(rs, "Normal", "SuccessfulCreate", "Created pod: %s", pod.Name)
	return nil
}

// newPod is a pod of rs's template, controlled by rs and named after it.
func newPod(rs *appsv1alpha1.ReplicaSet) *corev1alpha1.Pod {
	t := rs.Spec.Template.DeepCopy()
	return &corev1alpha1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			GenerateName: rs.Name + "-",
			Namespace:    rs.Namespace,
			Labels:       t.Labels,
			Annotations:  t.Annotations,
			Finalizers:   t.Finalizers,
			OwnerReferences: []metav1.OwnerReference{{
				APIVersion:         appsv1alpha1.GroupVersion.String(),
				Kind:               "ReplicaSet",
				Name:               rs.Name,
				UID:                rs.UID,
				Controller:         ptr.To(true),
				BlockOwnerDeletion: ptr.To(true),
			}},
		},
		Spec: t.Spec,
	}
}

// relatedPods are the active pods of rs and of the ReplicaSets that share its controller
// (a Deployment's old and new ReplicaSets), or rs's own pods when nothing controls it.
func (r *Reconciler) relatedPods(ctx context.Context, rs *appsv1alpha1.ReplicaSet, pods, namespacePods []*corev1alpha1.Pod) []*corev1alpha1.Pod {
	owner := metav1.GetControllerOfNoCopy(rs)
	if owner == nil {
		return pods
	}
	var siblings appsv1alpha1.ReplicaSetList
	if err := r.List(ctx, &siblings, client.InNamespace(rs.Namespace), client.UnsafeDisableDeepCopy); err != nil {
		log.FromContext(ctx).Error(err, "Listing sibling ReplicaSets; ranking by own pods only")
		return pods
	}
	family := map[types.UID]bool{}
	for i := range siblings.Items {
		if ref := metav1.GetControllerOfNoCopy(&siblings.Items[i]); ref != nil && ref.UID == owner.UID {
			family[siblings.Items[i].UID] = true
		}
	}
	var related []*corev1alpha1.Pod
	for _, p := range namespacePods {
		if ref := metav1.GetControllerOfNoCopy(p); ref != nil && family[ref.UID] {
			related = append(related, p)
		}
	}
	return related
}
