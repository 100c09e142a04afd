package v1alpha1

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Node is a machine that runs pods. Its node agent registers it, heartbeats through a Lease
// in namespace kybern-node-lease and reports its status; spec and status are core/v1's.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Cluster,shortName=kyno,categories=kybern
// +kubebuilder:printcolumn:name="Status",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Unschedulable",type=boolean,JSONPath=`.spec.unschedulable`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:printcolumn:name="Version",type=string,JSONPath=`.status.nodeInfo.kubeletVersion`
// +kubebuilder:printcolumn:name="Internal-IP",type=string,JSONPath=`.status.addresses[?(@.type=="InternalIP")].address`,priority=1
// +kubebuilder:printcolumn:name="Pod-CIDR",type=string,JSONPath=`.spec.podCIDR`,priority=1
// +kubebuilder:printcolumn:name="OS-Image",type=string,JSONPath=`.status.nodeInfo.osImage`,priority=1
// +kubebuilder:printcolumn:name="Kernel-Version",type=string,JSONPath=`.status.nodeInfo.kernelVersion`,priority=1
// +kubebuilder:printcolumn:name="Container-Runtime",type=string,JSONPath=`.status.nodeInfo.containerRuntimeVersion`,priority=1
type Node struct {
	metav1.TypeMeta `json:",inline"`
	// metadata is the standard object metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is the desired state of the node, as in core/v1.
	// +kubebuilder:validation:XValidation:rule="!has(oldSelf.podCIDR) || oldSelf.podCIDR == '' || (has(self.podCIDR) && self.podCIDR == oldSelf.podCIDR)",message="spec.podCIDR is immutable once set",fieldPath=".podCIDR",reason=FieldValueForbidden
	// +optional
	Spec corev1.NodeSpec `json:"spec,omitempty"`

	// status is the most recently observed status of the node, as in core/v1.
	// +optional
	Status corev1.NodeStatus `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// NodeList is a list of Nodes.
type NodeList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Node `json:"items"`
}

func init() {
	register(&Node{}, &NodeList{})
}
