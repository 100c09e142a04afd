package v1alpha1

import (
	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ReplicaSet keeps spec.replicas pods matching its selector running, as apps/v1's does.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:subresource:scale:specpath=.spec.replicas,statuspath=.status.replicas,selectorpath=.status.labelSelector
// +kubebuilder:resource:shortName=kyrs,categories={kybern,all}
// +kubebuilder:printcolumn:name="Desired",type=integer,JSONPath=`.spec.replicas`
// +kubebuilder:printcolumn:name="Current",type=integer,JSONPath=`.status.replicas`
// +kubebuilder:printcolumn:name="Ready",type=integer,JSONPath=`.status.readyReplicas`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:printcolumn:name="Containers",type=string,JSONPath=`.spec.template.spec.containers[*].name`,priority=1
// +kubebuilder:printcolumn:name="Images",type=string,JSONPath=`.spec.template.spec.containers[*].image`,priority=1
// +kubebuilder:printcolumn:name="Selector",type=string,JSONPath=`.status.labelSelector`,priority=1
type ReplicaSet struct {
	metav1.TypeMeta `json:",inline"`
	// metadata is the standard object metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is the desired state of the replica set, as in apps/v1.
	// +kubebuilder:validation:XValidation:rule="!has(self.replicas) || self.replicas >= 0",message="spec.replicas must be greater than or equal to 0",fieldPath=".replicas",reason=FieldValueInvalid
	// +kubebuilder:validation:XValidation:rule="!has(self.minReadySeconds) || self.minReadySeconds >= 0",message="spec.minReadySeconds must be greater than or equal to 0",fieldPath=".minReadySeconds",reason=FieldValueInvalid
	// +kubebuilder:validation:XValidation:rule="has(self.selector) && (size(self.selector.?matchLabels.orValue({})) + size(self.selector.?matchExpressions.orValue([]))) > 0",message="spec.selector must not be empty: set matchLabels that the template's labels carry",fieldPath=".selector",reason=FieldValueRequired
	// +kubebuilder:validation:XValidation:rule="!has(self.selector.matchLabels) || (has(self.template.metadata) && has(self.template.metadata.labels) ? self.selector.matchLabels.all(k, k in self.template.metadata.labels && self.template.metadata.labels[k] == self.selector.matchLabels[k]) : size(self.selector.matchLabels) == 0)",message="spec.selector does not match spec.template.metadata.labels: every matchLabels entry must appear in the template's labels",fieldPath=".template.metadata.labels",reason=FieldValueInvalid
	// +kubebuilder:validation:XValidation:rule="self.selector == oldSelf.selector",message="spec.selector is immutable: create a new object to select other pods",fieldPath=".selector",reason=FieldValueForbidden
	// +required
	Spec appsv1.ReplicaSetSpec `json:"spec"`

	// status is the most recently observed status of the replica set.
	// +optional
	Status ReplicaSetStatus `json:"status,omitempty"`
}

// ReplicaSetStatus is apps/v1's ReplicaSetStatus plus the selector in string form, which
// the scale subresource reports to kubectl and the autoscaler.
type ReplicaSetStatus struct {
	appsv1.ReplicaSetStatus `json:",inline"`

	// labelSelector is spec.selector serialised as a label selector string.
	// +optional
	LabelSelector string `json:"labelSelector,omitempty"`
}

// +kubebuilder:object:root=true

// ReplicaSetList is a list of ReplicaSets.
type ReplicaSetList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []ReplicaSet `json:"items"`
}

func init() {
	register(&ReplicaSet{}, &ReplicaSetList{})
}
