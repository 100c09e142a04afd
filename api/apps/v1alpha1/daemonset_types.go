package v1alpha1

import (
	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// DaemonSet runs one copy of its pod on every node that fits, as apps/v1's does, with
// rolling updates and history kept in ControllerRevisions.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=kyds,categories={kybern,all}
// +kubebuilder:printcolumn:name="Desired",type=integer,JSONPath=`.status.desiredNumberScheduled`
// +kubebuilder:printcolumn:name="Current",type=integer,JSONPath=`.status.currentNumberScheduled`
// +kubebuilder:printcolumn:name="Ready",type=integer,JSONPath=`.status.numberReady`
// +kubebuilder:printcolumn:name="Up-To-Date",type=integer,JSONPath=`.status.updatedNumberScheduled`
// +kubebuilder:printcolumn:name="Available",type=integer,JSONPath=`.status.numberAvailable`
// +kubebuilder:printcolumn:name="Node Selector",type=string,JSONPath=`.spec.template.spec.nodeSelector`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:printcolumn:name="Containers",type=string,JSONPath=`.spec.template.spec.containers[*].name`,priority=1
// +kubebuilder:printcolumn:name="Images",type=string,JSONPath=`.spec.template.spec.containers[*].image`,priority=1
// +kubebuilder:printcolumn:name="Selector",type=string,JSONPath=`.spec.selector`,priority=1
type DaemonSet struct {
	metav1.TypeMeta `json:",inline"`
	// metadata is the standard object metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is the desired state of the daemon set, as in apps/v1.
	// +kubebuilder:validation:XValidation:rule="!has(self.minReadySeconds) || self.minReadySeconds >= 0",message="spec.minReadySeconds must be greater than or equal to 0",fieldPath=".minReadySeconds",reason=FieldValueInvalid
	// +kubebuilder:validation:XValidation:rule="!has(self.revisionHistoryLimit) || self.revisionHistoryLimit >= 0",message="spec.revisionHistoryLimit must be greater than or equal to 0",fieldPath=".revisionHistoryLimit",reason=FieldValueInvalid
	// +kubebuilder:validation:XValidation:rule="has(self.selector) && (size(self.selector.?matchLabels.orValue({})) + size(self.selector.?matchExpressions.orValue([]))) > 0",message="spec.selector must not be empty: set matchLabels that the template's labels carry",fieldPath=".selector",reason=FieldValueRequired
	// +kubebuilder:validation:XValidation:rule="!has(self.selector.matchLabels) || (has(self.template.metadata) && has(self.template.metadata.labels) ? self.selector.matchLabels.all(k, k in self.template.metadata.labels && self.template.metadata.labels[k] == self.selector.matchLabels[k]) : size(self.selector.matchLabels) == 0)",message="spec.selector does not match spec.template.metadata.labels: every matchLabels entry must appear in the template's labels",fieldPath=".template.metadata.labels",reason=FieldValueInvalid
	// +kubebuilder:validation:XValidation:rule="self.selector == oldSelf.selector",message="spec.selector is immutable: create a new object to select other pods",fieldPath=".selector",reason=FieldValueForbidden
	// +required
	Spec DaemonSetSpec `json:"spec"`

	// status is the most recently observed status of the daemon set, as in apps/v1.
	// +optional
	Status DaemonSetStatus `json:"status,omitempty"`
}

// DaemonSetSpec is apps/v1's DaemonSetSpec plus automatic rollback.
type DaemonSetSpec struct {
	appsv1.DaemonSetSpec `json:",inline"`

	// rollbackPolicy, when set, rolls a failed update back to the last revision that was
	// fully rolled out, within maxSurge and maxUnavailable; see RollbackPolicy.
	// +optional
	RollbackPolicy *RollbackPolicy `json:"rollbackPolicy,omitempty"`

	// configPolicy is Snapshot to version the ConfigMaps and Secrets the template references
	// with each revision, Live (the default) to let pods read them as they are now; see
	// ConfigPolicy.
	// +optional
	ConfigPolicy ConfigPolicy `json:"configPolicy,omitempty"`
}

// DaemonSetStatus is apps/v1's DaemonSetStatus plus what automatic rollback remembers.
type DaemonSetStatus struct {
	appsv1.DaemonSetStatus `json:",inline"`

	// rollback is what automatic rollback remembers; set while spec.rollbackPolicy is.
	// +optional
	Rollback *RollbackStatus `json:"rollback,omitempty"`
}

// +kubebuilder:object:root=true

// DaemonSetList is a list of DaemonSets.
type DaemonSetList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []DaemonSet `json:"items"`
}

func init() {
	register(&DaemonSet{}, &DaemonSetList{})
}
