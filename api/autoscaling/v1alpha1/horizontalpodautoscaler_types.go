package v1alpha1

import (
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// HorizontalPodAutoscaler scales a workload's replicas through its scale subresource to
// hold a metric at a target, as autoscaling/v2's does.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=kyhpa,categories={kybern,all}
// +kubebuilder:printcolumn:name="Reference",type=string,JSONPath=`.spec.scaleTargetRef.name`
// +kubebuilder:printcolumn:name="Targets",type=string,JSONPath=`.status.currentMetrics[0].resource.current.averageUtilization`
// +kubebuilder:printcolumn:name="MinPods",type=integer,JSONPath=`.spec.minReplicas`
// +kubebuilder:printcolumn:name="MaxPods",type=integer,JSONPath=`.spec.maxReplicas`
// +kubebuilder:printcolumn:name="Replicas",type=integer,JSONPath=`.status.currentReplicas`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type HorizontalPodAutoscaler struct {
	metav1.TypeMeta `json:",inline"`
	// metadata is the standard object metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is the desired behaviour of the autoscaler, as in autoscaling/v2.
	// +kubebuilder:validation:XValidation:rule="!has(self.minReplicas) || self.minReplicas >= 1",message="spec.minReplicas must be greater than or equal to 1",fieldPath=".minReplicas",reason=FieldValueInvalid
	// +kubebuilder:validation:XValidation:rule="self.maxReplicas >= self.?minReplicas.orValue(1)",message="spec.maxReplicas must be greater than or equal to spec.minReplicas",fieldPath=".maxReplicas",reason=FieldValueInvalid
	// +required
	Spec autoscalingv2.HorizontalPodAutoscalerSpec `json:"spec"`

	// status is the most recently observed status of the autoscaler, as in autoscaling/v2.
	// +optional
	Status autoscalingv2.HorizontalPodAutoscalerStatus `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// HorizontalPodAutoscalerList is a list of HorizontalPodAutoscalers.
type HorizontalPodAutoscalerList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []HorizontalPodAutoscaler `json:"items"`
}

func init() {
	register(&HorizontalPodAutoscaler{}, &HorizontalPodAutoscalerList{})
}
