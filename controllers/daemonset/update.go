package daemonset

import (
	"cmp"
	"maps"
	"slices"
	"strconv"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	appsv1alpha1 "github.com/kybern/kybern/api/apps/v1alpha1"
	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
	"github.com/kybern/kybern/controllers/internal/podutil"
)

// Labels on daemon pods, as upstream's: the hash of the ControllerRevision a pod was made
// from, and the DaemonSet's generation at the time.
const (
	RevisionHashLabel       = appsv1.DefaultDaemonSetUniqueLabelKey
	TemplateGenerationLabel = "pod-template-generation"
)

// isUpdated reports whether p was made from ds's current template: its revision hash is
// hash, or its template generation is ds's generation. The CRD has no template generation
// of its own, so metadata.generation stands in; it also moves on spec changes that leave
// the template alone, which the hash still recognises. The hash alone counts while a
// rollback holds, since the failed revision's pods carry ds's generation too, and with
// configPolicy Snapshot, since an edit of a ConfigMap or Secret makes a new revision
// without moving the generation.
func isUpdated(ds *appsv1alpha1.DaemonSet, p *corev1alpha1.Pod, hash string) bool {
	if hash != "" && p.Labels[RevisionHashLabel] == hash {
		return true
	}
	return !rollingBack(ds) && ds.Spec.ConfigPolicy != appsv1alpha1.ConfigSnapshot &&
		p.Labels[TemplateGenerationLabel] == strconv.FormatInt(ds.Generation, 10)
}

// updatedAndOld splits the pods of one node that are not being deleted into the one of
// the current template and the one of an older one; ok is false when there are two of
// either kind, which manage cleans up first.
func updatedAndOld(ds *appsv1alpha1.DaemonSet, pods []*corev1alpha1.Pod, hash string) (updated, old *corev1alpha1.Pod, ok bool) {
	for _, p := range pods {
		if p.DeletionTimestamp != nil {
			continue
		}
		slot := &old
		if isUpdated(ds, p, hash) {
			slot = &updated
		}
		if *slot != nil {
			return nil, nil, false
		}
		*slot = p
	}
	return updated, old, true
}

// allowsSurge reports whether ds's rolling update may run an old and a new pod on one node.
func allowsSurge(ds *appsv1alpha1.DaemonSet) bool {
	return surgeAndUnavailable(ds, 1).surge > 0
}

type budget struct{ surge, unavailable int }

// isRollingUpdate reports whether ds replaces its pods of old revisions itself: a
// RollingUpdate, or no strategy type at all, which upstream's defaulting makes one.
func isRollingUpdate(ds *appsv1alpha1.DaemonSet) bool {
	t := ds.Spec.UpdateStrategy.Type
	return t == "" || t == appsv1.RollingUpdateDaemonSetStrategyType
}

// surgeAndUnavailable resolves maxSurge and maxUnavailable against desired nodes,
// percentages rounding up: 30% of 5 nodes is 2. Unset, they are upstream's defaults,
// maxUnavailable 1 and maxSurge 0, with or without a rollingUpdate block. Both 0 would
// stall a rollout, so maxUnavailable becomes 1 then, as upstream.
func surgeAndUnavailable(ds *appsv1alpha1.DaemonSet, desired int) budget {
	if !isRollingUpdate(ds) {
		return budget{}
	}
	one, zero := intstr.FromInt32(1), intstr.FromInt32(0)
	maxSurge, maxUnavailable := &zero, &one
	if ru := ds.Spec.UpdateStrategy.RollingUpdate; ru != nil {
		maxSurge = cmp.Or(ru.MaxSurge, maxSurge)
		maxUnavailable = cmp.Or(ru.MaxUnavailable, maxUnavailable)
	}
	var b budget
	b.surge, _ = intstr.GetScaledValueFromIntOrPercent(maxSurge, desired, true)
	b.unavailable, _ = intstr.GetScaledValueFromIntOrPercent(maxUnavailable, desired, true)
	if desired > 0 && b.surge == 0 && b.unavailable == 0 {
		b.unavailable = 1
	}
	return b
}

// rollingUpdate plans one step of a RollingUpdate, once manage has nothing left to do:
// which old pods to delete and which nodes get a new pod. desired are the nodes that
// should run ds, byNode its pods by target node.
//
// Without surge, old pods are deleted and manage recreates them. Every desired node that
// lacks an available updated pod counts as unavailable; an old pod that is itself
// unavailable is replaced at once (it costs nothing), and available old pods are deleted
// while fewer than maxUnavailable nodes are unavailable. With 5 nodes, maxUnavailable 2,
// one node whose new pod is not ready yet and four available old pods: 1 is unavailable,
// so one old pod goes now, and the next when a node becomes available again.
//
// With surge, a new pod starts beside the old one and the old is deleted once the new is
// available. Every node whose new pod is not yet available counts against maxSurge; a node
// whose old pod is unavailable gets its new pod at once. With 5 nodes and maxSurge 1: one
// node at a time runs two pods, and never does a node lack an available pod because of the
// update.
func rollingUpdate(ds *appsv1alpha1.DaemonSet, desired []string, byNode map[string][]*corev1alpha1.Pod, hash string, now time.Time) (deletions []*corev1alpha1.Pod, creations []string) {
	nodes := map[string]bool{}
	for n := range byNode {
		nodes[n] = true
	}
	for _, n := range desired {
		nodes[n] = true
	}
	names := slices.Sorted(maps.Keys(nodes))
	b := surgeAndUnavailable(ds, len(desired))
	available := func(p *corev1alpha1.Pod) bool { return podutil.IsAvailable(p, ds.Spec.MinReadySeconds, now) }
	if b.surge == 0 {
		return replaceWithin(ds, names, byNode, hash, b.unavailable, available), nil
	}
	return surge(ds, names, byNode, hash, b.surge, available)
}

// replaceWithin picks the old pods to delete so that at most maxUnavailable nodes lack an
// available pod.
func replaceWithin(ds *appsv1alpha1.DaemonSet, nodes []string, byNode map[string][]*corev1alpha1.Pod, hash string,
	maxUnavailable int, available func(*corev1alpha1.Pod) bool) []*corev1alpha1.Pod {
	var unavailable int
	var replace, candidates []*corev1alpha1.Pod
	for _, n := range nodes {
		updated, old, ok := updatedAndOld(ds, byNode[n], hash)
		switch {
		case !ok, updated == nil && old == nil, updated != nil && old != nil:
			unavailable++
		case updated != nil:
			if !available(updated) {
				unavailable++
			}
		case !available(old):
			replace = append(replace, old)
			unavailable++
		case unavailable < maxUnavailable:
			candidates = append(candidates, old)
		}
	}
	room := min(max(maxUnavailable-unavailable, 0), len(candidates))
	return append(replace, candidates[:room]...)
}

// surge picks the nodes that get a new pod beside their old one, at most maxSurge not yet
// available at once, and the old pods whose new pod is available.
func surge(ds *appsv1alpha1.DaemonSet, nodes []string, byNode map[string][]*corev1alpha1.Pod, hash string,
	maxSurge int, available func(*corev1alpha1.Pod) bool) (deletions []*corev1alpha1.Pod, creations []string) {
	var surging int
	var candidates []string
	for _, n := range nodes {
		updated, old, ok := updatedAndOld(ds, byNode[n], hash)
		switch {
		case !ok:
			surging++
		case old == nil:
		case updated == nil && !available(old):
			creations = append(creations, n)
		case updated == nil:
			if surging < maxSurge {
				candidates = append(candidates, n)
			}
		case !available(updated):
			surging++
		default:
			deletions = append(deletions, old)
		}
	}
	room := min(max(maxSurge-surging, 0), len(candidates))
	return deletions, append(creations, candidates[:room]...)
}
