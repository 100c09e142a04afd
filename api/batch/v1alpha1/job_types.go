package v1alpha1

import (
	batchv1 "k8s.io/api/batch/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Job runs pods until a number of them succeed, as batch/v1's does: parallelism,
// completions, Indexed completion mode, backoff limits, deadlines and TTL after finishing.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=kyjob,categories={kybern,all}
// +kubebuilder:printcolumn:name="Status",type=string,JSONPath=`.status.conditions[-1:].type`,description="The latest condition: Complete or Failed once the Job finished"
// +kubebuilder:printcolumn:name="Completions",type=integer,JSONPath=`.spec.completions`
// +kubebuilder:printcolumn:name="Succeeded",type=integer,JSONPath=`.status.succeeded`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:printcolumn:name="Containers",type=string,JSONPath=`.spec.template.spec.containers[*].name`,priority=1
// +kubebuilder:printcolumn:name="Images",type=string,JSONPath=`.spec.template.spec.containers[*].image`,priority=1
// +kubebuilder:printcolumn:name="Selector",type=string,JSONPath=`.spec.selector`,priority=1
type Job struct {
	metav1.TypeMeta `json:",inline"`
	// metadata is the standard object metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is the desired behaviour of the job, as in batch/v1.
	// +kubebuilder:validation:XValidation:rule="!has(self.parallelism) || self.parallelism >= 0",message="spec.parallelism must be greater than or equal to 0",fieldPath=".parallelism",reason=FieldValueInvalid
	// +kubebuilder:validation:XValidation:rule="!has(self.completions) || self.completions >= 0",message="spec.completions must be greater than or equal to 0",fieldPath=".completions",reason=FieldValueInvalid
	// +kubebuilder:validation:XValidation:rule="!has(self.backoffLimit) || self.backoffLimit >= 0",message="spec.backoffLimit must be greater than or equal to 0",fieldPath=".backoffLimit",reason=FieldValueInvalid
	// +kubebuilder:validation:XValidation:rule="!has(self.backoffLimitPerIndex) || self.backoffLimitPerIndex >= 0",message="spec.backoffLimitPerIndex must be greater than or equal to 0",fieldPath=".backoffLimitPerIndex",reason=FieldValueInvalid
	// +kubebuilder:validation:XValidation:rule="!has(self.activeDeadlineSeconds) || self.activeDeadlineSeconds > 0",message="spec.activeDeadlineSeconds must be greater than 0",fieldPath=".activeDeadlineSeconds",reason=FieldValueInvalid
	// +kubebuilder:validation:XValidation:rule="!has(self.ttlSecondsAfterFinished) || self.ttlSecondsAfterFinished >= 0",message="spec.ttlSecondsAfterFinished must be greater than or equal to 0",fieldPath=".ttlSecondsAfterFinished",reason=FieldValueInvalid
	// +kubebuilder:validation:XValidation:rule="!has(self.completionMode) || self.completionMode in ['NonIndexed', 'Indexed']",message="spec.completionMode must be NonIndexed or Indexed",fieldPath=".completionMode",reason=FieldValueInvalid
	// +kubebuilder:validation:XValidation:rule="self.?completionMode.orValue('NonIndexed') != 'Indexed' || has(self.completions)",message="spec.completions is required when spec.completionMode is Indexed",fieldPath=".completions",reason=FieldValueRequired
	// +kubebuilder:validation:XValidation:rule="!has(self.backoffLimitPerIndex) || self.?completionMode.orValue('NonIndexed') == 'Indexed'",message="spec.backoffLimitPerIndex requires spec.completionMode Indexed",fieldPath=".backoffLimitPerIndex",reason=FieldValueForbidden
	// +kubebuilder:validation:XValidation:rule="has(self.template.spec.restartPolicy) && self.template.spec.restartPolicy in ['OnFailure', 'Never']",message="spec.template.spec.restartPolicy must be OnFailure or Never for a Job: set it in the pod template",fieldPath=".template.spec.restartPolicy",reason=FieldValueInvalid
	// +kubebuilder:validation:XValidation:rule="!has(self.selector) || !has(self.selector.matchLabels) || (has(self.template.metadata) && has(self.template.metadata.labels) ? self.selector.matchLabels.all(k, k in self.template.metadata.labels && self.template.metadata.labels[k] == self.selector.matchLabels[k]) : size(self.selector.matchLabels) == 0)",message="spec.selector does not match spec.template.metadata.labels: every matchLabels entry must appear in the template's labels",fieldPath=".template.metadata.labels",reason=FieldValueInvalid
	// +kubebuilder:validation:XValidation:rule="!has(oldSelf.selector) || (has(self.selector) && self.selector == oldSelf.selector)",message="spec.selector is immutable once set",fieldPath=".selector",reason=FieldValueForbidden
	// +kubebuilder:validation:XValidation:rule="(has(self.completionMode) ? self.completionMode : 'NonIndexed') == (has(oldSelf.completionMode) ? oldSelf.completionMode : 'NonIndexed')",message="spec.completionMode is immutable",fieldPath=".completionMode",reason=FieldValueForbidden
	// +kubebuilder:validation:XValidation:rule="self.?completions == oldSelf.?completions || (self.?completionMode.orValue('NonIndexed') == 'Indexed' && self.?completions == self.?parallelism)",message="spec.completions is immutable, except for an Indexed job whose completions and parallelism change together",fieldPath=".completions",reason=FieldValueForbidden
	// +required
	Spec batchv1.JobSpec `json:"spec"`

	// status is the most recently observed status of the job, as in batch/v1.
	// +optional
	Status batchv1.JobStatus `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// JobList is a list of Jobs.
type JobList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Job `json:"items"`
}

func init() {
	register(&Job{}, &JobList{})
}
