package daemonset

import (
	"fmt"
	"sort"
	"time"

	corev1 "k8s.io/api/core/v1"

	appsv1alpha1 "github.com/kybern/kybern/api/apps/v1alpha1"
	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
	"github.com/kybern/kybern/controllers/internal/podutil"
)

// ReasonFailedDaemonPod is the event reason for a failed daemon pod about to be replaced.
const ReasonFailedDaemonPod = "FailedDaemonPod"

// fit is whether one node should run ds: run, create a pod there; keep, let one stay.
type fit struct {
	node      string
	run, keep bool
}

// fitNodes judges every node for ds, in the order given.
func fitNodes(ds *appsv1alpha1.DaemonSet, nodes []corev1alpha1.Node) []fit {
	p := eligibilityPod(ds)
	out := make([]fit, len(nodes))
	for i := range nodes {
		run, keep := shouldRun(p, &nodes[i])
		out[i] = fit{node: nodes[i].Name, run: run, keep: keep}
	}
	return out
}

// desiredNodes are the names of the nodes that should run ds.
func desiredNodes(fits []fit) []string {
	var out []string
	for _, f := range fits {
		if f.run {
			out = append(out, f.node)
		}
	}
	return out
}

// plan is the writes of one reconcile.
type plan struct {
	// create names the nodes that get a new pod.
	create []string
	delete []*corev1alpha1.Pod
	// retry, when not zero, is when a failed pod that backoff held back may go.
	retry time.Duration
}

func (pl *plan) empty() bool { return len(pl.create) == 0 && len(pl.delete) == 0 }

// manage plans the writes that bring every node to what ds wants there, given its pods by
// target node (those terminated and being deleted left out), as upstream's
// podsShouldBeOnNode:
//   - a node that should run ds and has no pod gets one;
//   - on a node whose pod may stay, failed pods are deleted (at most once per backoff
//     step, so that a pod the node keeps refusing does not loop), and surplus pods go;
//   - every pod on a node that may not keep it goes, and so does every pod whose node no
//     longer exists: kybern has no pod garbage collector to remove it.
func (r *Reconciler) manage(ds *appsv1alpha1.DaemonSet, fits []fit, byNode map[string][]*corev1alpha1.Pod, hash string, now time.Time) plan {
	var pl plan
	exists := map[string]bool{}
	for _, f := range fits {
		exists[f.node] = true
		pods := byNode[f.node]
		switch {
		case f.run && len(pods) == 0:
			pl.create = append(pl.create, f.node)
		case f.keep:
			running := r.deleteFailed(ds, f.node, pods, now, &pl)
			surplus, needed := surplus(ds, running, hash, now)
			pl.delete = append(pl.delete, surplus...)
			if needed && f.run {
				pl.create = append(pl.create, f.node)
			}
		default:
			pl.delete = append(pl.delete, notDeleting(pods)...)
		}
	}
	for node, pods := range byNode {
		if !exists[node] {
			pl.delete = append(pl.delete, notDeleting(pods)...)
		}
	}
	return pl
}

// deleteFailed plans the deletion of the failed pods on node that backoff allows, and
// returns the pods that are neither failed nor being deleted.
func (r *Reconciler) deleteFailed(ds *appsv1alpha1.DaemonSet, node string, pods []*corev1alpha1.Pod, now time.Time, pl *plan) []*corev1alpha1.Pod {
	var running []*corev1alpha1.Pod
	key := fmt.Sprintf("%s/%d/%s", ds.UID, ds.Status.ObservedGeneration, node)
	for _, p := range pods {
		switch {
		case p.DeletionTimestamp != nil:
		case p.Status.Phase != corev1.PodFailed:
			running = append(running, p)
		case r.failedBackoff.IsInBackOffSinceUpdate(key, now):
			if wait := r.failedBackoff.Get(key); pl.retry == 0 || wait < pl.retry {
				pl.retry = wait
			}
		default:
			r.failedBackoff.Next(key, now)
			r.Recorder.Eventf(ds, corev1.EventTypeWarning, ReasonFailedDaemonPod,
				"Found failed daemon pod %s/%s on node %s, will try to kill it", p.Namespace, p.Name, node)
			pl.delete = append(pl.delete, p)
		}
	}
	return running
}

// surplus are the pods of one node beyond what ds allows there; needed reports that the
// node has none left that runs.
//
// Without surge one pod stays: the bound one, else the oldest. With surge an old and a new
// pod may share the node while the new one comes up: the oldest of each kind stay, and
// the old one goes too once it is not ready or the new one is available.
func surplus(ds *appsv1alpha1.DaemonSet, running []*corev1alpha1.Pod, hash string, now time.Time) (extra []*corev1alpha1.Pod, needed bool) {
	if len(running) == 0 {
		return nil, allowsSurge(ds)
	}
	sort.SliceStable(running, func(i, j int) bool { return keepFirst(running[i], running[j]) })
	if !allowsSurge(ds) {
		return running[1:], false
	}
	var newest, oldest *corev1alpha1.Pod
	for _, p := range running {
		slot := &oldest
		if isUpdated(ds, p, hash) {
			slot = &newest
		}
		if *slot == nil {
			*slot = p
			continue
		}
		extra = append(extra, p)
	}
	if newest != nil && oldest != nil &&
		(!podutil.IsReady(oldest) || podutil.IsAvailable(newest, ds.Spec.MinReadySeconds, now)) {
		extra = append(extra, oldest)
	}
	return extra, false
}

// keepFirst orders the pods of one node by which to keep: bound before unbound, then
// older before newer, then by name.
func keepFirst(a, b *corev1alpha1.Pod) bool {
	if (a.Spec.NodeName == "") != (b.Spec.NodeName == "") {
		return a.Spec.NodeName != ""
	}
	if !a.CreationTimestamp.Equal(&b.CreationTimestamp) {
		return a.CreationTimestamp.Before(&b.CreationTimestamp)
	}
	return a.Name < b.Name
}

func notDeleting(pods []*corev1alpha1.Pod) []*corev1alpha1.Pod {
	var out []*corev1alpha1.Pod
	for _, p := range pods {
		if p.DeletionTimestamp == nil {
			out = append(out, p)
		}
	}
	return out
}
