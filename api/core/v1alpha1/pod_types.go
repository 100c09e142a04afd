package v1alpha1

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// NodeAgentFinalizer holds a pod bound to a node until its agent has stopped its
// containers. Custom resources have no graceful deletion of their own; with it, deleting a
// pod marks it terminating, the agent stops its containers within
// terminationGracePeriodSeconds, and only then does the pod object go. The pod garbage
// collector removes it from the pods of a node that is gone or out of service.
const NodeAgentFinalizer = "core.kybern.io/node-agent"

// Pod is the smallest deployable unit: a group of containers that share a network and
// volumes, run together on one node. Spec and status are upstream core/v1's; the scheduler
// binds a pod by setting spec.nodeName, once, and the node agent of that node runs it.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=kypo,categories={kybern,all}
// +kubebuilder:selectablefield:JSONPath=.spec.nodeName
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Status",type=string,JSONPath=`.status.phase`
// +kubebuilder:printcolumn:name="Restarts",type=integer,JSONPath=`.status.containerStatuses[0].restartCount`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:printcolumn:name="IP",type=string,JSONPath=`.status.podIP`,priority=1
// +kubebuilder:printcolumn:name="Node",type=string,JSONPath=`.spec.nodeName`,priority=1
// +kubebuilder:printcolumn:name="Nominated Node",type=string,JSONPath=`.status.nominatedNodeName`,priority=1
type Pod struct {
	metav1.TypeMeta `json:",inline"`
	// metadata is the standard object metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is the desired behaviour of the pod, as in core/v1.
	// +kubebuilder:validation:XValidation:rule="!has(oldSelf.nodeName) || oldSelf.nodeName == '' || (has(self.nodeName) && self.nodeName == oldSelf.nodeName)",message="spec.nodeName is immutable once set: delete the pod and create it again to move it to another node",fieldPath=".nodeName",reason=FieldValueForbidden
	// +kubebuilder:validation:XValidation:rule="size(self.containers) > 0",message="spec.containers must list at least one container",fieldPath=".containers",reason=FieldValueRequired
	// +kubebuilder:validation:XValidation:rule="self.containers.all(c, size(c.name) > 0)",message="spec.containers[].name is required: name every container",fieldPath=".containers",reason=FieldValueRequired
	// +required
	Spec corev1.PodSpec `json:"spec,omitempty"`

	// status is the most recently observed status of the pod, as in core/v1; the node
	// agent running the pod writes it.
	// +optional
	Status corev1.PodStatus `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// PodList is a list of Pods.
type PodList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Pod `json:"items"`
}

func init() {
	register(&Pod{}, &PodList{})
}
