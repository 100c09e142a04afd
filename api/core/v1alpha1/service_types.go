package v1alpha1

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Service names a set of pods, chosen by a label selector, behind one stable virtual IP and
// DNS name. Spec and status are core/v1's; the service controller allocates
// spec.clusterIP from the service CIDR.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=kysvc,categories={kybern,all}
// +kubebuilder:printcolumn:name="Type",type=string,JSONPath=`.spec.type`
// +kubebuilder:printcolumn:name="Cluster-IP",type=string,JSONPath=`.spec.clusterIP`
// +kubebuilder:printcolumn:name="External-IP",type=string,JSONPath=`.spec.externalIPs[0]`
// +kubebuilder:printcolumn:name="Port(s)",type=string,JSONPath=`.spec.ports[*].port`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:printcolumn:name="Selector",type=string,JSONPath=`.spec.selector`,priority=1
type Service struct {
	metav1.TypeMeta `json:",inline"`
	// metadata is the standard object metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is the desired behaviour of the service, as in core/v1.
	// +kubebuilder:validation:XValidation:rule="!has(oldSelf.clusterIP) || oldSelf.clusterIP == '' || (has(self.clusterIP) && self.clusterIP == oldSelf.clusterIP)",message="spec.clusterIP is immutable once set: delete the service and create it again to change it",fieldPath=".clusterIP",reason=FieldValueForbidden
	// +optional
	Spec corev1.ServiceSpec `json:"spec,omitempty"`

	// status is the most recently observed status of the service, as in core/v1.
	// +optional
	Status corev1.ServiceStatus `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// ServiceList is a list of Services.
type ServiceList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Service `json:"items"`
}

// A Service's status conditions, set by the service controller. Node agents program a
// cluster IP or node ports only while the matching condition is True for the Service's
// current generation.
const (
	// ServiceClusterIPAllocated is True once spec.clusterIP holds an address of the
	// service range that no other Service holds. Headless and ExternalName Services have
	// none.
	ServiceClusterIPAllocated = "ClusterIPAllocated"
	// ServiceNodePortAllocated is True once every port of a NodePort or LoadBalancer
	// Service has a node port that no other Service holds. Other types have none.
	ServiceNodePortAllocated = "NodePortAllocated"
)

// The ranges the manager allocates cluster IPs and node ports from by default
// (--service-cluster-ip-range, --service-node-port-range), upstream's defaults; node agents
// take the same flags and program nothing outside them.
const (
	DefaultServiceClusterIPRange = "10.96.0.0/16"
	DefaultServiceNodePortRange  = "30000-32767"
)

func init() {
	register(&Service{}, &ServiceList{})
}
