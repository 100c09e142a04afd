package v1alpha1

import (
	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Deployment rolls a pod template out through ReplicaSets, as apps/v1's does: rolling
// updates bounded by maxSurge and maxUnavailable, or recreate, with revision history,
// pause and rollback.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:subresource:scale:specpath=.spec.replicas,statuspath=.status.replicas,selectorpath=.status.labelSelector
// +kubebuilder:resource:shortName=kydeploy,categories={kybern,all}
// +kubebuilder:printcolumn:name="Ready",type=integer,JSONPath=`.status.readyReplicas`
// +kubebuilder:printcolumn:name="Up-To-Date",type=integer,JSONPath=`.status.updatedReplicas`
// +kubebuilder:printcolumn:name="Available",type=integer,JSONPath=`.status.availableReplicas`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:printcolumn:name="Containers",type=string,JSONPath=`.spec.template.spec.containers[*].name`,priority=1
// +kubebuilder:printcolumn:name="Images",type=string,JSONPath=`.spec.template.spec.containers[*].image`,priority=1
// +kubebuilder:printcolumn:name="Selector",type=string,JSONPath=`.status.labelSelector`,priority=1
type Deployment struct {
	metav1.TypeMeta `json:",inline"`
	// metadata is the standard object metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is the desired state of the deployment, as in apps/v1.
	// +kubebuilder:validation:XValidation:rule="!has(self.replicas) || self.replicas >= 0",message="spec.replicas must be greater than or equal to 0",fieldPath=".replicas",reason=FieldValueInvalid
	// +kubebuilder:validation:XValidation:rule="!has(self.minReadySeconds) || self.minReadySeconds >= 0",message="spec.minReadySeconds must be greater than or equal to 0",fieldPath=".minReadySeconds",reason=FieldValueInvalid
	// +kubebuilder:validation:XValidation:rule="!has(self.revisionHistoryLimit) || self.revisionHistoryLimit >= 0",message="spec.revisionHistoryLimit must be greater than or equal to 0",fieldPath=".revisionHistoryLimit",reason=FieldValueInvalid
	// +kubebuilder:validation:XValidation:rule="!has(self.progressDeadlineSeconds) || self.progressDeadlineSeconds > self.?minReadySeconds.orValue(0)",message="spec.progressDeadlineSeconds must be greater than spec.minReadySeconds",fieldPath=".progressDeadlineSeconds",reason=FieldValueInvalid
	// +kubebuilder:validation:XValidation:rule="!has(self.strategy) || !has(self.strategy.type) || self.strategy.type != 'Recreate' || !has(self.strategy.rollingUpdate)",message="spec.strategy.rollingUpdate may not be set when spec.strategy.type is Recreate",fieldPath=".strategy.rollingUpdate",reason=FieldValueForbidden
	// +kubebuilder:validation:XValidation:rule="has(self.selector) && (size(self.selector.?matchLabels.orValue({})) + size(self.selector.?matchExpressions.orValue([]))) > 0",message="spec.selector must not be empty: set matchLabels that the template's labels carry",fieldPath=".selector",reason=FieldValueRequired
	// +kubebuilder:validation:XValidation:rule="!has(self.selector.matchLabels) || (has(self.template.metadata) && has(self.template.metadata.labels) ? self.selector.matchLabels.all(k, k in self.template.metadata.labels && self.template.metadata.labels[k] == self.selector.matchLabels[k]) : size(self.selector.matchLabels) == 0)",message="spec.selector does not match spec.template.metadata.labels: every matchLabels entry must appear in the template's labels",fieldPath=".template.metadata.labels",reason=FieldValueInvalid
	// +kubebuilder:validation:XValidation:rule="self.selector == oldSelf.selector",message="spec.selector is immutable: create a new object to select other pods",fieldPath=".selector",reason=FieldValueForbidden
	// +required
	Spec DeploymentSpec `json:"spec"`

	// status is the most recently observed status of the deployment.
	// +optional
	Status DeploymentStatus `json:"status,omitempty"`
}

// DeploymentSpec is apps/v1's DeploymentSpec plus automatic rollback.
type DeploymentSpec struct {
	appsv1.DeploymentSpec `json:",inline"`

	// rollbackPolicy, when set, rolls a failed rollout back to the last revision that was
	// fully available; see RollbackPolicy. Unset, a failed rollout stops as upstream's does.
	// +optional
	RollbackPolicy *RollbackPolicy `json:"rollbackPolicy,omitempty"`

	// configPolicy is Snapshot to version the ConfigMaps and Secrets the template references
	// with each revision, Live (the default) to let pods read them as they are now; see
	// ConfigPolicy.
	// +optional
	ConfigPolicy ConfigPolicy `json:"configPolicy,omitempty"`
}

// DeploymentStatus is apps/v1's DeploymentStatus plus the selector in string form, which
// the scale subresource reports to kubectl and the autoscaler.
type DeploymentStatus struct {
	appsv1.DeploymentStatus `json:",inline"`

	// labelSelector is spec.selector serialised as a label selector string.
	// +optional
	LabelSelector string `json:"labelSelector,omitempty"`

	// rollback is what automatic rollback remembers; set while spec.rollbackPolicy is.
	// +optional
	Rollback *RollbackStatus `json:"rollback,omitempty"`
}

// +kubebuilder:object:root=true

// DeploymentList is a list of Deployments.
type DeploymentList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Deployment `json:"items"`
}

func init() {
	register(&Deployment{}, &DeploymentList{})
}
