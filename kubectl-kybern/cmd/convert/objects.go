package convert

import (
	"fmt"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	appsv1alpha1 "github.com/kybern/kybern/api/apps/v1alpha1"
	autoscalingv1alpha1 "github.com/kybern/kybern/api/autoscaling/v1alpha1"
	batchv1alpha1 "github.com/kybern/kybern/api/batch/v1alpha1"
	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
)

// kybernVersions maps each upstream kind kybern serves, at the version whose spec kybern's
// kind takes, to kybern's group and version. The specs are the same Go types, so only
// apiVersion changes.
var kybernVersions = map[schema.GroupVersionKind]schema.GroupVersion{
	{Group: "apps", Version: "v1", Kind: "Deployment"}:                     appsv1alpha1.GroupVersion,
	{Group: "apps", Version: "v1", Kind: "ReplicaSet"}:                     appsv1alpha1.GroupVersion,
	{Group: "apps", Version: "v1", Kind: "DaemonSet"}:                      appsv1alpha1.GroupVersion,
	{Group: "apps", Version: "v1", Kind: "StatefulSet"}:                    appsv1alpha1.GroupVersion,
	{Group: "batch", Version: "v1", Kind: "Job"}:                           batchv1alpha1.GroupVersion,
	{Group: "batch", Version: "v1", Kind: "CronJob"}:                       batchv1alpha1.GroupVersion,
	{Group: "", Version: "v1", Kind: "Pod"}:                                corev1alpha1.GroupVersion,
	{Group: "", Version: "v1", Kind: "Service"}:                            corev1alpha1.GroupVersion,
	{Group: "discovery.k8s.io", Version: "v1", Kind: "EndpointSlice"}:      corev1alpha1.GroupVersion,
	{Group: "autoscaling", Version: "v2", Kind: "HorizontalPodAutoscaler"}: autoscalingv1alpha1.GroupVersion,
}

// scaleTargets are the kinds an autoscaler scales whose reference moves to kybern's group.
var scaleTargets = map[string]bool{"Deployment": true, "ReplicaSet": true, "StatefulSet": true}

// Object converts one manifest object, in place: an upstream kind kybern serves gets
// kybern's apiVersion (an autoscaler's scaleTargetRef too, for the apps kinds kybern
// serves); the items of a List are converted one by one; any other object is left as it
// is. Every other field, known or not, stays. A kybern kind at an older upstream version,
// whose spec differs from the one kybern takes, is refused with the version to convert to.
func Object(obj map[string]any) error {
	u := &unstructured.Unstructured{Object: obj}
	gvk := u.GroupVersionKind()
	if u.IsList() {
		items, _, err := unstructured.NestedSlice(obj, "items")
		if err != nil {
			return fmt.Errorf("reading the items of %s: %w", gvk.Kind, err)
		}
		for i, item := range items {
			m, ok := item.(map[string]any)
			if !ok {
				return fmt.Errorf("item %d of %s is not an object", i, gvk.Kind)
			}
			if err := Object(m); err != nil {
				return fmt.Errorf("item %d of %s: %w", i, gvk.Kind, err)
			}
		}
		return unstructured.SetNestedSlice(obj, items, "items")
	}
	target, ok := kybernVersions[gvk]
	if !ok {
		return refuseOtherVersion(u)
	}
	u.SetAPIVersion(target.String())
	if gvk.Kind == "HorizontalPodAutoscaler" {
		ref, _, _ := unstructured.NestedMap(obj, "spec", "scaleTargetRef")
		if kind, _ := ref["kind"].(string); ref["apiVersion"] == "apps/v1" && scaleTargets[kind] {
			return unstructured.SetNestedField(obj, appsv1alpha1.GroupVersion.String(), "spec", "scaleTargetRef", "apiVersion")
		}
	}
	return nil
}

// refuseOtherVersion fails for an object of a kind kybern serves at another upstream
// version than the one kybern's spec is; it passes any other object.
func refuseOtherVersion(u *unstructured.Unstructured) error {
	gvk := u.GroupVersionKind()
	group := gvk.Group
	if group == "extensions" {
		// extensions/v1beta1 served Deployments, ReplicaSets and DaemonSets before apps did.
		group = "apps"
	}
	for from := range kybernVersions {
		if from.Kind != gvk.Kind || from.Group != group {
			continue
		}
		hint := ""
		if gvk.Kind == "HorizontalPodAutoscaler" && gvk.Version == "v1" {
			hint = " (spec.targetCPUUtilizationPercentage becomes a Resource metric for cpu in spec.metrics)"
		}
		return fmt.Errorf("%s %q is %s, but kybern's %s takes the %s spec: rewrite it as %s%s and convert that",
			gvk.Kind, u.GetName(), gvk.GroupVersion(), gvk.Kind, from.GroupVersion(), from.GroupVersion(), hint)
	}
	return nil
}
