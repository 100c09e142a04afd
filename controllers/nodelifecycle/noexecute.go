package nodelifecycle

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
)

// Taint-based eviction, as upstream's taint eviction controller: a pod leaves a node
// once it no longer tolerates one of the node's NoExecute taints. Each taint counts from
// its timeAdded, which is stamped on taints that lack it, so that a manager that restarts
// evicts at the same time as the one before it:
//   - a taint no toleration of the pod matches evicts it at once, except not-ready and
//     unreachable, which upstream's DefaultTolerationSeconds admission makes every pod
//     tolerate for a while: these evict after the manager's default for each;
//   - matching tolerations keep the pod for the least tolerationSeconds among them, or
//     for as long as the taint stays when none of them sets it.

// stampNoExecute gives every NoExecute taint of node without a timeAdded the time now.
func (r *Reconciler) stampNoExecute(ctx context.Context, node *corev1alpha1.Node, now time.Time) error {
	orig := node.DeepCopy()
	stamped := false
	for i := range node.Spec.Taints {
		if t := &node.Spec.Taints[i]; t.Effect == corev1.TaintEffectNoExecute && t.TimeAdded == nil {
			t.TimeAdded, stamped = ptrTime(now), true
		}
	}
	if !stamped {
		return nil
	}
	return r.Patch(ctx, node, client.MergeFromWithOptions(orig, client.MergeFromWithOptimisticLock{}))
}

func ptrTime(t time.Time) *metav1.Time {
	at := metav1.NewTime(t)
	return &at
}

// evictionTime is when pod p must leave a node with taints: forever is true when it
// may stay as long as they do.
func (r *Reconciler) evictionTime(p *corev1alpha1.Pod, taints []corev1.Taint) (at time.Time, forever bool) {
	forever = true
	for i := range taints {
		t := &taints[i]
		if t.Effect != corev1.TaintEffectNoExecute || t.TimeAdded == nil {
			continue
		}
		seconds, tolerated := r.tolerationSeconds(p, t)
		if tolerated && seconds == nil {
			continue
		}
		var after time.Duration
		if seconds != nil {
			after = time.Duration(max(*seconds, 0)) * time.Second
		}
		if evict := t.TimeAdded.Add(after); forever || evict.Before(at) {
			at, forever = evict, false
		}
	}
	return at, forever
}

// tolerationSeconds is how long p tolerates taint: the least tolerationSeconds of the
// tolerations that match it, nil (as long as the taint stays) when none of them sets
// one; not tolerated, it is not at all.
func (r *Reconciler) tolerationSeconds(p *corev1alpha1.Pod, taint *corev1.Taint) (seconds *int64, tolerated bool) {
	for i := range p.Spec.Tolerations {
		tol := &p.Spec.Tolerations[i]
		if !tol.ToleratesTaint(logr.Discard(), taint, false) {
			continue
		}
		tolerated = true
		if tol.TolerationSeconds == nil {
			continue
		}
		if seconds == nil || *tol.TolerationSeconds < *seconds {
			seconds = tol.TolerationSeconds
		}
	}
	switch {
	case tolerated:
		return seconds, true
	case taint.Key == corev1.TaintNodeNotReady:
		return &r.DefaultNotReadyTolerationSeconds, true
	case taint.Key == corev1.TaintNodeUnreachable:
		return &r.DefaultUnreachableTolerationSeconds, true
	}
	return nil, false
}

// evict deletes the pods on node that no longer tolerate its NoExecute taints, and
// returns when the next one will not (zero if none). An unreachable node keeps its
// StatefulSet pods, since deleting one that its node may still run could leave two pods
// with one ordinal; the node's return, or its out-of-service taint, settles them.
func (r *Reconciler) evict(ctx context.Context, node *corev1alpha1.Node, now time.Time) (time.Time, error) {
	if !hasNoExecute(node.Spec.Taints) {
		return time.Time{}, nil
	}
	// Only a node that may still run its pods keeps its StatefulSet pods: one tainted
	// out-of-service is declared shut down.
	keepStatefulSetPods := hasTaint(node.Spec.Taints, corev1.TaintNodeUnreachable, corev1.TaintEffectNoExecute) &&
		!slices.ContainsFunc(node.Spec.Taints, func(t corev1.Taint) bool { return t.Key == corev1.TaintNodeOutOfService })
	var pods corev1alpha1.PodList
	if err := r.List(ctx, &pods, client.MatchingFields{podNodeNameIndex: node.Name}); err != nil {
		return time.Time{}, err
	}
	var next time.Time
	for i := range pods.Items {
		p := &pods.Items[i]
		if p.DeletionTimestamp != nil || (keepStatefulSetPods && ownedByStatefulSet(p)) {
			continue
		}
		at, forever := r.evictionTime(p, node.Spec.Taints)
		if forever {
			continue
		}
		if at.After(now) {
			if next.IsZero() || at.Before(next) {
				next = at
			}
			continue
		}
		if err := r.Delete(ctx, p, client.Preconditions{UID: &p.UID}); client.IgnoreNotFound(err) != nil && !apierrors.IsConflict(err) {
			return next, fmt.Errorf("evicting pod %s/%s from node %s for its NoExecute taints: %w", p.Namespace, p.Name, node.Name, err)
		}
		r.Recorder.Eventf(p, corev1.EventTypeNormal, "TaintManagerEviction", "Marking for deletion Pod %s/%s", p.Namespace, p.Name)
	}
	return next, nil
}

func hasNoExecute(taints []corev1.Taint) bool {
	for _, t := range taints {
		if t.Effect == corev1.TaintEffectNoExecute {
			return true
		}
	}
	return false
}

func hasTaint(taints []corev1.Taint, key string, effect corev1.TaintEffect) bool {
	for _, t := range taints {
		if t.Key == key && t.Effect == effect {
			return true
		}
	}
	return false
}

func ownedByStatefulSet(p *corev1alpha1.Pod) bool {
	ref := metav1.GetControllerOfNoCopy(p)
	return ref != nil && ref.Kind == "StatefulSet"
}
