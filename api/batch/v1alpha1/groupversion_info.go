// Package v1alpha1 contains the API schema of the batch.kybern.io/v1alpha1 group: the
// upstream Kubernetes batch kinds served as CRDs, with upstream specs and statuses.
// +kubebuilder:object:generate=true
// +groupName=batch.kybern.io
package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

var (
	// GroupVersion is the group and version of every kind in this package.
	GroupVersion = schema.GroupVersion{Group: "batch.kybern.io", Version: "v1alpha1"}

	// SchemeBuilder adds the kinds of this package to a runtime.Scheme.
	SchemeBuilder = runtime.NewSchemeBuilder(addKnownTypes)

	// AddToScheme adds the kinds of this package to a runtime.Scheme.
	AddToScheme = SchemeBuilder.AddToScheme

	// knownTypes are the kinds each types file registers in its init.
	knownTypes []runtime.Object
)

// register adds kinds, each with its list, to those AddToScheme adds.
func register(objects ...runtime.Object) { knownTypes = append(knownTypes, objects...) }

func addKnownTypes(s *runtime.Scheme) error {
	s.AddKnownTypes(GroupVersion, knownTypes...)
	metav1.AddToGroupVersion(s, GroupVersion)
	return nil
}
