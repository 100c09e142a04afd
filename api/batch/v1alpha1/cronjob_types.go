package v1alpha1

import (
	batchv1 "k8s.io/api/batch/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// CronJob creates Jobs on a cron schedule, as batch/v1's does, with a concurrency policy,
// a starting deadline, suspension and bounded history.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=kycj,categories={kybern,all}
// +kubebuilder:printcolumn:name="Schedule",type=string,JSONPath=`.spec.schedule`
// +kubebuilder:printcolumn:name="Timezone",type=string,JSONPath=`.spec.timeZone`
// +kubebuilder:printcolumn:name="Suspend",type=boolean,JSONPath=`.spec.suspend`
// +kubebuilder:printcolumn:name="Active",type=integer,JSONPath=`.status.active[*].name`
// +kubebuilder:printcolumn:name="Last Schedule",type=date,JSONPath=`.status.lastScheduleTime`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:printcolumn:name="Containers",type=string,JSONPath=`.spec.jobTemplate.spec.template.spec.containers[*].name`,priority=1
// +kubebuilder:printcolumn:name="Images",type=string,JSONPath=`.spec.jobTemplate.spec.template.spec.containers[*].image`,priority=1
type CronJob struct {
	metav1.TypeMeta `json:",inline"`
	// metadata is the standard object metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is the desired behaviour of the cron job, as in batch/v1.
	// +kubebuilder:validation:XValidation:rule="size(self.schedule) > 0",message="spec.schedule is required: a cron expression such as '*/1 * * * *'",fieldPath=".schedule",reason=FieldValueRequired
	// +kubebuilder:validation:XValidation:rule="!has(self.concurrencyPolicy) || self.concurrencyPolicy in ['Allow', 'Forbid', 'Replace']",message="spec.concurrencyPolicy must be Allow, Forbid or Replace",fieldPath=".concurrencyPolicy",reason=FieldValueInvalid
	// +kubebuilder:validation:XValidation:rule="!has(self.startingDeadlineSeconds) || self.startingDeadlineSeconds >= 0",message="spec.startingDeadlineSeconds must be greater than or equal to 0",fieldPath=".startingDeadlineSeconds",reason=FieldValueInvalid
	// +kubebuilder:validation:XValidation:rule="!has(self.successfulJobsHistoryLimit) || self.successfulJobsHistoryLimit >= 0",message="spec.successfulJobsHistoryLimit must be greater than or equal to 0",fieldPath=".successfulJobsHistoryLimit",reason=FieldValueInvalid
	// +kubebuilder:validation:XValidation:rule="!has(self.failedJobsHistoryLimit) || self.failedJobsHistoryLimit >= 0",message="spec.failedJobsHistoryLimit must be greater than or equal to 0",fieldPath=".failedJobsHistoryLimit",reason=FieldValueInvalid
	// +kubebuilder:validation:XValidation:rule="!has(self.jobTemplate.spec.completionMode) || self.jobTemplate.spec.completionMode in ['NonIndexed', 'Indexed']",message="spec.jobTemplate.spec.completionMode must be NonIndexed or Indexed",fieldPath=".jobTemplate.spec.completionMode",reason=FieldValueInvalid
	// +kubebuilder:validation:XValidation:rule="has(self.jobTemplate.spec.template.spec.restartPolicy) && self.jobTemplate.spec.template.spec.restartPolicy in ['OnFailure', 'Never']",message="spec.jobTemplate.spec.template.spec.restartPolicy must be OnFailure or Never",fieldPath=".jobTemplate.spec.template.spec.restartPolicy",reason=FieldValueInvalid
	// +required
	Spec batchv1.CronJobSpec `json:"spec"`

	// status is the most recently observed status of the cron job, as in batch/v1.
	// +optional
	Status batchv1.CronJobStatus `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// CronJobList is a list of CronJobs.
type CronJobList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []CronJob `json:"items"`
}

func init() {
	register(&CronJob{}, &CronJobList{})
}
