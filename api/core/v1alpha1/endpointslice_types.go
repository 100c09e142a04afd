package v1alpha1

import (
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// EndpointSlice lists some of the endpoints behind a Service, as discovery/v1's does: the
// endpoints controller writes them, the service proxy and DNS read them. Its label
// kubernetes.io/service-name names the Service.
//
// +kubebuilder:object:root=true
// +kubebuilder:resource:shortName=kyeps,categories=kybern
// +kubebuilder:printcolumn:name="AddressType",type=string,JSONPath=`.addressType`
// +kubebuilder:printcolumn:name="Ports",type=string,JSONPath=`.ports[*].port`
// +kubebuilder:printcolumn:name="Endpoints",type=string,JSONPath=`.endpoints[*].addresses[0]`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type EndpointSlice struct {
	metav1.TypeMeta `json:",inline"`
	// metadata is the standard object metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// addressType is the type of every address in this slice: IPv4, IPv6 or FQDN.
	// +kubebuilder:validation:Enum=IPv4;IPv6;FQDN
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="addressType is immutable"
	// +required
	AddressType discoveryv1.AddressType `json:"addressType"`

	// endpoints is the list of unique endpoints in this slice, at most 1000.
	// +kubebuilder:validation:MaxItems=1000
	// +listType=atomic
	// +optional
	Endpoints []discoveryv1.Endpoint `json:"endpoints"`

	// ports are the network ports every endpoint in this slice exposes, at most 100.
	// +kubebuilder:validation:MaxItems=100
	// +listType=atomic
	// +optional
	Ports []discoveryv1.EndpointPort `json:"ports"`
}

// +kubebuilder:object:root=true

// EndpointSliceList is a list of EndpointSlices.
type EndpointSliceList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []EndpointSlice `json:"items"`
}

func init() {
	register(&EndpointSlice{}, &EndpointSliceList{})
}
