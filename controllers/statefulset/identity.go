package statefulset

import (
	"fmt"
	"maps"
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	appsv1alpha1 "github.com/kybern/kybern/api/apps/v1alpha1"
	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
)

// Labels on stateful pods, as upstream's: the pod's own name, its ordinal, and the name of
// the ControllerRevision it was made from.
const (
	PodNameLabel      = appsv1.StatefulSetPodNameLabel
	PodIndexLabel     = appsv1.PodIndexLabel
	RevisionHashLabel = appsv1.StatefulSetRevisionLabel
)

// ordinalOf parses the ordinal of a pod named <set>-<ordinal>; ok is false for any other
// name, including one whose ordinal has a leading zero or a sign ("web-01", "web-+1"),
// which no ordinal of set is ever given.
func ordinalOf(set, pod string) (ordinal int, ok bool) {
	suffix, found := strings.CutPrefix(pod, set+"-")
	if !found || suffix == "" {
		return -1, false
	}
	n, err := strconv.Atoi(suffix)
	if err != nil || n < 0 || strconv.Itoa(n) != suffix {
		return -1, false
	}
	return n, true
}

// podName is the name of set's pod of ordinal.
func podName(set *appsv1alpha1.StatefulSet, ordinal int) string {
	return fmt.Sprintf("%s-%d", set.Name, ordinal)
}

// startOrdinal and replicas give set's ordinal range, [start, start+replicas).
func startOrdinal(set *appsv1alpha1.StatefulSet) int {
	if set.Spec.Ordinals == nil {
		return 0
	}
	return int(set.Spec.Ordinals.Start)
}

func replicas(set *appsv1alpha1.StatefulSet) int { return int(ptr.Deref(set.Spec.Replicas, 1)) }

// inRange reports whether ordinal is one set wants a pod for.
func inRange(set *appsv1alpha1.StatefulSet, ordinal int) bool {
	start := startOrdinal(set)
	return ordinal >= start && ordinal < start+replicas(set)
}

// claimName is the PersistentVolumeClaim of template for set's pod of ordinal:
// <template>-<set>-<ordinal>, so data-web-0 for template data of set web.
func claimName(set *appsv1alpha1.StatefulSet, template string, ordinal int) string {
	return fmt.Sprintf("%s-%s-%d", template, set.Name, ordinal)
}

// identityMatches reports whether p carries the identity set gives its ordinal.
func identityMatches(set *appsv1alpha1.StatefulSet, p *corev1alpha1.Pod, ordinal int) bool {
	return p.Name == podName(set, ordinal) && p.Namespace == set.Namespace &&
		p.Labels[PodNameLabel] == p.Name && p.Labels[PodIndexLabel] == strconv.Itoa(ordinal)
}

// storageMatches reports whether every volumeClaimTemplate of set is a volume of p that
// mounts the claim of p's ordinal.
func storageMatches(set *appsv1alpha1.StatefulSet, p *corev1alpha1.Pod, ordinal int) bool {
	volumes := map[string]*corev1.Volume{}
	for i := range p.Spec.Volumes {
		volumes[p.Spec.Volumes[i].Name] = &p.Spec.Volumes[i]
	}
	for _, t := range set.Spec.VolumeClaimTemplates {
		v := volumes[t.Name]
		if v == nil || v.PersistentVolumeClaim == nil || v.PersistentVolumeClaim.ClaimName != claimName(set, t.Name, ordinal) {
			return false
		}
	}
	return true
}

// setIdentity gives p the labels of its ordinal; the name cannot change and is never wrong
// for a pod found by it.
func setIdentity(p *corev1alpha1.Pod, ordinal int) {
	if p.Labels == nil {
		p.Labels = map[string]string{}
	}
	p.Labels[PodNameLabel] = p.Name
	p.Labels[PodIndexLabel] = strconv.Itoa(ordinal)
}

// setStorage points p's volumes at the claims of its ordinal: a volume named after a
// volumeClaimTemplate is replaced by one that mounts the claim, and the template's other
// volumes stay.
func setStorage(set *appsv1alpha1.StatefulSet, p *corev1alpha1.Pod, ordinal int) {
	volumes := make([]corev1.Volume, 0, len(set.Spec.VolumeClaimTemplates)+len(p.Spec.Volumes))
	claimed := map[string]bool{}
	for _, t := range set.Spec.VolumeClaimTemplates {
		claimed[t.Name] = true
		volumes = append(volumes, corev1.Volume{Name: t.Name, VolumeSource: corev1.VolumeSource{
			PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: claimName(set, t.Name, ordinal)}}})
	}
	for _, v := range p.Spec.Volumes {
		if !claimed[v.Name] {
			volumes = append(volumes, v)
		}
	}
	p.Spec.Volumes = volumes
}

// newPod is set's pod of ordinal made from template, the template of the revision named
// revision: named <set>-<ordinal>, reachable as <pod>.<serviceName>, controlled by set.
func newPod(set *appsv1alpha1.StatefulSet, template *corev1.PodTemplateSpec, revision string, ordinal int) *corev1alpha1.Pod {
	t := template.DeepCopy()
	p := &corev1alpha1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name:            podName(set, ordinal),
			Namespace:       set.Namespace,
			Labels:          maps.Clone(t.Labels),
			Annotations:     t.Annotations,
			Finalizers:      t.Finalizers,
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(set, gvk)},
		},
		Spec: t.Spec,
	}
	setIdentity(p, ordinal)
	p.Labels[RevisionHashLabel] = revision
	p.Spec.Hostname = p.Name
	p.Spec.Subdomain = set.Spec.ServiceName
	setStorage(set, p, ordinal)
	return p
}

// newClaims are the PersistentVolumeClaims of set's pod of ordinal, one per
// volumeClaimTemplate, labelled with set's selector labels as upstream's.
func newClaims(set *appsv1alpha1.StatefulSet, ordinal int) []*corev1.PersistentVolumeClaim {
	out := make([]*corev1.PersistentVolumeClaim, 0, len(set.Spec.VolumeClaimTemplates))
	for i := range set.Spec.VolumeClaimTemplates {
		t := &set.Spec.VolumeClaimTemplates[i]
		c := &corev1.PersistentVolumeClaim{
			ObjectMeta: metav1.ObjectMeta{
				Name:        claimName(set, t.Name, ordinal),
				Namespace:   set.Namespace,
				Labels:      maps.Clone(t.Labels),
				Annotations: maps.Clone(t.Annotations),
			},
			Spec: *t.Spec.DeepCopy(),
		}
		if set.Spec.Selector != nil && len(set.Spec.Selector.MatchLabels) > 0 {
			if c.Labels == nil {
				c.Labels = map[string]string{}
			}
			maps.Copy(c.Labels, set.Spec.Selector.MatchLabels)
		}
		out = append(out, c)
	}
	return out
}
