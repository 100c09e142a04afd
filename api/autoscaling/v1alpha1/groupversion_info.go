// Package v1alpha1 contains the API schema of the autoscaling.kybern.io/v1alpha1 group: the
// upstream Kubernetes autoscaling kinds served as CRDs, with upstream specs and statuses.
// +kubebuilder:object:generate=true
// +groupName=autoscaling.kybern.io
package v1alpha1

import (
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/scheme"
)

var (
	// GroupVersion is the group and version of every kind in this package.
	GroupVersion = schema.GroupVersion{Group: "autoscaling.kybern.io", Version: "v1alpha1"}

	// SchemeBuilder registers the kinds of this package with a runtime.Scheme.
	SchemeBuilder = &scheme.Builder{GroupVersion: GroupVersion}

	// AddToScheme adds the kinds of this package to a runtime.Scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)
