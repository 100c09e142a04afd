package horizontalpodautoscaler

import (
	"fmt"
	"time"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	autoscalingv1alpha1 "github.com/kybern/kybern/api/autoscaling/v1alpha1"
)

// Reasons of the AbleToScale condition, upstream's.
const (
	ReasonSucceededGetScale   = "SucceededGetScale"
	ReasonFailedGetScale      = "FailedGetScale"
	ReasonFailedUpdateScale   = "FailedUpdateScale"
	ReasonSucceededRescale    = "SucceededRescale"
	ReasonReadyForNewScale    = "ReadyForNewScale"
	ReasonScaleUpStabilized   = "ScaleUpStabilized"
	ReasonScaleDownStabilized = "ScaleDownStabilized"
)

// Reasons of the ScalingActive condition, upstream's. The FailedGet…Metric reasons are
// also the reasons of the Warning event recorded for the metric that failed.
const (
	ReasonValidMetricFound                 = "ValidMetricFound"
	ReasonScalingDisabled                  = "ScalingDisabled"
	ReasonInvalidSelector                  = "InvalidSelector"
	ReasonAmbiguousSelector                = "AmbiguousSelector"
	ReasonInvalidMetricSourceType          = "InvalidMetricSourceType"
	ReasonFailedGetResourceMetric          = "FailedGetResourceMetric"
	ReasonFailedGetContainerResourceMetric = "FailedGetContainerResourceMetric"
	ReasonFailedGetPodsMetric              = "FailedGetPodsMetric"
	ReasonFailedGetObjectMetric            = "FailedGetObjectMetric"
	ReasonFailedGetExternalMetric          = "FailedGetExternalMetric"
)

// Reasons of the ScalingLimited condition, upstream's: True for the first four, which
// say which bound changed the metrics' recommendation, False for DesiredWithinRange.
const (
	ReasonTooFewReplicas     = "TooFewReplicas"
	ReasonTooManyReplicas    = "TooManyReplicas"
	ReasonScaleUpLimit       = "ScaleUpLimit"
	ReasonScaleDownLimit     = "ScaleDownLimit"
	ReasonDesiredWithinRange = "DesiredWithinRange"
)

// Event reasons that are not also condition reasons, upstream's.
const (
	EventSuccessfulRescale            = "SuccessfulRescale"
	EventFailedRescale                = "FailedRescale"
	EventFailedComputeMetricsReplicas = "FailedComputeMetricsReplicas"
	EventSelectorRequired             = "SelectorRequired"
	EventFailedUpdateStatus           = "FailedUpdateStatus"
)

// condition is a condition to set: its type, status, reason and message.
type condition struct {
	kind    autoscalingv2.HorizontalPodAutoscalerConditionType
	status  corev1.ConditionStatus
	reason  string
	message string
}

// setCondition sets c on hpa's status, adding it when absent; its transition time moves to
// now only when its status changes.
func setCondition(hpa *autoscalingv1alpha1.HorizontalPodAutoscaler, c condition, now time.Time) {
	conds := hpa.Status.Conditions
	i := 0
	for i < len(conds) && conds[i].Type != c.kind {
		i++
	}
	if i == len(conds) {
		conds = append(conds, autoscalingv2.HorizontalPodAutoscalerCondition{Type: c.kind})
	}
	if conds[i].Status != c.status {
		conds[i].LastTransitionTime = metav1.NewTime(now)
	}
	conds[i].Status, conds[i].Reason, conds[i].Message = c.status, c.reason, c.message
	hpa.Status.Conditions = conds
}

// cond builds a condition whose message is format applied to args.
func cond(kind autoscalingv2.HorizontalPodAutoscalerConditionType, status corev1.ConditionStatus, reason, format string, args ...any) condition {
	return condition{kind: kind, status: status, reason: reason, message: fmt.Sprintf(format, args...)}
}
