package v1alpha1

import (
	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// StatefulSet runs pods with stable names, ordinals and storage, as apps/v1's does:
// ordered or parallel pod management, rolling updates with partitions, and
// PersistentVolumeClaims from volumeClaimTemplates.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:subresource:scale:specpath=.spec.replicas,statuspath=.status.replicas,selectorpath=.status.labelSelector
// +kubebuilder:resource:shortName=kysts,categories={kybern,all}
// +kubebuilder:printcolumn:name="Ready",type=integer,JSONPath=`.status.readyReplicas`
// +kubebuilder:printcolumn:name="Replicas",type=integer,JSONPath=`.spec.replicas`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:printcolumn:name="Containers",type=string,JSONPath=`.spec.template.spec.containers[*].name`,priority=1
// +kubebuilder:printcolumn:name="Images",type=string,JSONPath=`.spec.template.spec.containers[*].image`,priority=1
type StatefulSet struct {
	metav1.TypeMeta `json:",inline"`
	// metadata is the standard object metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is the desired state of the stateful set, as in apps/v1. As upstream, only
	// replicas, ordinals, template, updateStrategy, persistentVolumeClaimRetentionPolicy and
	// minReadySeconds may change after creation.
	// +kubebuilder:validation:XValidation:rule="!has(self.replicas) || self.replicas >= 0",message="spec.replicas must be greater than or equal to 0",fieldPath=".replicas",reason=FieldValueInvalid
	// +kubebuilder:validation:XValidation:rule="!has(self.minReadySeconds) || self.minReadySeconds >= 0",message="spec.minReadySeconds must be greater than or equal to 0",fieldPath=".minReadySeconds",reason=FieldValueInvalid
	// +kubebuilder:validation:XValidation:rule="!has(self.ordinals) || !has(self.ordinals.start) || self.ordinals.start >= 0",message="spec.ordinals.start must be greater than or equal to 0",fieldPath=".ordinals.start",reason=FieldValueInvalid
	// +kubebuilder:validation:XValidation:rule="!has(self.podManagementPolicy) || self.podManagementPolicy in ['OrderedReady', 'Parallel']",message="spec.podManagementPolicy must be OrderedReady or Parallel",fieldPath=".podManagementPolicy",reason=FieldValueInvalid
	// +kubebuilder:validation:XValidation:rule="has(self.serviceName) == has(oldSelf.serviceName) && (!has(self.serviceName) || self.serviceName == oldSelf.serviceName)",message="spec.serviceName is immutable",fieldPath=".serviceName",reason=FieldValueForbidden
	// +kubebuilder:validation:XValidation:rule="(has(self.podManagementPolicy) ? self.podManagementPolicy : 'OrderedReady') == (has(oldSelf.podManagementPolicy) ? oldSelf.podManagementPolicy : 'OrderedReady')",message="spec.podManagementPolicy is immutable",fieldPath=".podManagementPolicy",reason=FieldValueForbidden
	// +kubebuilder:validation:XValidation:rule="has(self.volumeClaimTemplates) == has(oldSelf.volumeClaimTemplates) && (!has(self.volumeClaimTemplates) || self.volumeClaimTemplates == oldSelf.volumeClaimTemplates)",message="spec.volumeClaimTemplates is immutable",fieldPath=".volumeClaimTemplates",reason=FieldValueForbidden
	// +kubebuilder:validation:XValidation:rule="has(self.selector) && (size(self.selector.?matchLabels.orValue({})) + size(self.selector.?matchExpressions.orValue([]))) > 0",message="spec.selector must not be empty: set matchLabels that the template's labels carry",fieldPath=".selector",reason=FieldValueRequired
	// +kubebuilder:validation:XValidation:rule="!has(self.selector.matchLabels) || (has(self.template.metadata) && has(self.template.metadata.labels) ? self.selector.matchLabels.all(k, k in self.template.metadata.labels && self.template.metadata.labels[k] == self.selector.matchLabels[k]) : size(self.selector.matchLabels) == 0)",message="spec.selector does not match spec.template.metadata.labels: every matchLabels entry must appear in the template's labels",fieldPath=".template.metadata.labels",reason=FieldValueInvalid
	// +kubebuilder:validation:XValidation:rule="self.selector == oldSelf.selector",message="spec.selector is immutable: create a new object to select other pods",fieldPath=".selector",reason=FieldValueForbidden
	// +required
	Spec StatefulSetSpec `json:"spec"`

	// status is the most recently observed status of the stateful set.
	// +optional
	Status StatefulSetStatus `json:"status,omitempty"`
}

// StatefulSetSpec is apps/v1's StatefulSetSpec plus automatic rollback.
type StatefulSetSpec struct {
	appsv1.StatefulSetSpec `json:",inline"`

	// rollbackPolicy, when set, rolls a failed update back to the last revision that was
	// fully rolled out, within the partition; see RollbackPolicy.
	// +optional
	RollbackPolicy *RollbackPolicy `json:"rollbackPolicy,omitempty"`

	// configPolicy is Snapshot to version the ConfigMaps and Secrets the template references
	// with each revision, Live (the default) to let pods read them as they are now; see
	// ConfigPolicy.
	// +optional
	ConfigPolicy ConfigPolicy `json:"configPolicy,omitempty"`
}

// StatefulSetStatus is apps/v1's StatefulSetStatus plus the selector in string form, which
// the scale subresource reports to kubectl and the autoscaler.
type StatefulSetStatus struct {
	appsv1.StatefulSetStatus `json:",inline"`

	// labelSelector is spec.selector serialised as a label selector string.
	// +optional
	LabelSelector string `json:"labelSelector,omitempty"`

	// rollback is what automatic rollback remembers; set while spec.rollbackPolicy is.
	// +optional
	Rollback *RollbackStatus `json:"rollback,omitempty"`
}

// +kubebuilder:object:root=true

// StatefulSetList is a list of StatefulSets.
type StatefulSetList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []StatefulSet `json:"items"`
}

func init() {
	register(&StatefulSet{}, &StatefulSetList{})
}
