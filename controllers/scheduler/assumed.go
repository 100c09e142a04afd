package scheduler

import (
	"time"

	"k8s.io/apimachinery/pkg/types"

	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
)

// assumeTTL bounds how long a bind the cache has not shown counts against its node.
const assumeTTL = 30 * time.Second

// assumption is a pod this scheduler bound, as it will look once the cache catches up.
type assumption struct {
	pod   *corev1alpha1.Pod
	since time.Time
}

// assumed are the pods bound but not yet seen bound in the cache, by UID. It is guarded
// by the Reconciler's decision lock.
type assumed map[types.UID]assumption

// assume records that p is being bound to node.
func (a assumed) assume(p *corev1alpha1.Pod, node string, now time.Time) {
	bound := p.DeepCopy()
	bound.Spec.NodeName = node
	a[p.UID] = assumption{pod: bound, since: now}
}

// pending returns the assumptions the cache does not reflect yet, forgetting those it
// does (the pod shows bound, or is gone) and those older than assumeTTL.
func (a assumed) pending(cached map[types.UID]*corev1alpha1.Pod, now time.Time) []*corev1alpha1.Pod {
	var out []*corev1alpha1.Pod
	for uid, as := range a {
		p, ok := cached[uid]
		if (ok && p.Spec.NodeName != "") || now.Sub(as.since) > assumeTTL || (!ok && now.Sub(as.since) > time.Second) {
			delete(a, uid)
			continue
		}
		out = append(out, as.pod)
	}
	return out
}
