package horizontalpodautoscaler

import (
	"errors"
	"fmt"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/utils/ptr"

	autoscalingv1alpha1 "github.com/kybern/kybern/api/autoscaling/v1alpha1"
	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
)

// defaultMetrics are the metrics of an autoscaler that lists none: 80% of requested CPU,
// autoscaling/v2's default (upstream's pkg/apis/autoscaling/v2/defaults.go).
var defaultMetrics = []autoscalingv2.MetricSpec{{
	Type: autoscalingv2.ResourceMetricSourceType,
	Resource: &autoscalingv2.ResourceMetricSource{Name: corev1.ResourceCPU, Target: autoscalingv2.MetricTarget{
		Type: autoscalingv2.UtilizationMetricType, AverageUtilization: ptr.To[int32](80),
	}},
}}

func metricSpecs(hpa *autoscalingv1alpha1.HorizontalPodAutoscaler) []autoscalingv2.MetricSpec {
	if len(hpa.Spec.Metrics) == 0 {
		return defaultMetrics
	}
	return hpa.Spec.Metrics
}

// metricInput is what evaluating an autoscaler's metrics reads.
type metricInput struct {
	hpa      *autoscalingv1alpha1.HorizontalPodAutoscaler
	pods     []*corev1alpha1.Pod
	selector labels.Selector
	// specReplicas and statusReplicas are the target scale's spec and status replicas.
	specReplicas, statusReplicas int32
	calc                         calculator
}

// metricError is why one metric proposed nothing: the ScalingActive reason (also the
// reason of the Warning event recorded), the error, and what the error is about.
type metricError struct {
	reason, about string
	err           error
}

// proposal is what an autoscaler's metrics ask for.
type proposal struct {
	// replicas is the highest count a metric asked for, metric the description of that
	// metric ("cpu resource utilization (percentage of request)").
	replicas int32
	metric   string
	// statuses has one entry per metric, empty for a metric that proposed nothing.
	statuses []autoscalingv2.MetricStatus
	// failed counts the metrics that proposed nothing; first is the first of them.
	failed int
	first  *metricError
}

// usable reports whether the proposal may be acted on: some metric proposed a count, and
// none failed unless the count scales up from current. Scaling down on some metrics could
// go below what the failed ones would want; scaling up cannot.
func (p proposal) usable(current int32) bool {
	return p.failed < len(p.statuses) && (p.failed == 0 || p.replicas >= current)
}

// err describes the failed metrics, nil when none failed.
func (p proposal) err() error {
	if p.first == nil {
		return nil
	}
	return fmt.Errorf("invalid metrics (%d invalid out of %d), first error is: %s: %w", p.failed, len(p.statuses), p.first.about, p.first.err)
}

// propose evaluates every metric of in.hpa, recording a Warning event for each that fails.
func (r *Reconciler) propose(in metricInput) proposal {
	specs := metricSpecs(in.hpa)
	p := proposal{statuses: make([]autoscalingv2.MetricStatus, len(specs))}
	for i, spec := range specs {
		replicas, metric, status, merr := r.evaluate(in, spec)
		if merr != nil {
			r.Recorder.Event(in.hpa, corev1.EventTypeWarning, merr.reason, merr.err.Error())
			if p.first == nil {
				p.first = merr
			}
			p.failed++
			continue
		}
		p.statuses[i] = status
		if p.replicas == 0 || replicas > p.replicas {
			p.replicas, p.metric = replicas, metric
		}
	}
	return p
}

// evaluate is one metric's proposal: the count, the metric's description and its status.
func (r *Reconciler) evaluate(in metricInput, spec autoscalingv2.MetricSpec) (int32, string, autoscalingv2.MetricStatus, *metricError) {
	switch {
	case spec.Type == autoscalingv2.ResourceMetricSourceType && spec.Resource != nil:
		name := spec.Resource.Name
		replicas, metric, current, err := r.resourceMetric(in, name, "", spec.Resource.Target)
		if err != nil {
			return 0, "", autoscalingv2.MetricStatus{}, &metricError{ReasonFailedGetResourceMetric, fmt.Sprintf("failed to get %s resource metric value", name), err}
		}
		return replicas, metric, autoscalingv2.MetricStatus{Type: spec.Type, Resource: &autoscalingv2.ResourceMetricStatus{Name: name, Current: current}}, nil
	case spec.Type == autoscalingv2.ContainerResourceMetricSourceType && spec.ContainerResource != nil:
		src := spec.ContainerResource
		replicas, metric, current, err := r.resourceMetric(in, src.Name, src.Container, src.Target)
		if err != nil {
			return 0, "", autoscalingv2.MetricStatus{}, &metricError{ReasonFailedGetContainerResourceMetric, fmt.Sprintf("failed to get %s container metric value", src.Container), err}
		}
		status := &autoscalingv2.ContainerResourceMetricStatus{Name: src.Name, Container: src.Container, Current: current}
		return replicas, metric, autoscalingv2.MetricStatus{Type: spec.Type, ContainerResource: status}, nil
	case spec.Type == autoscalingv2.PodsMetricSourceType && spec.Pods != nil:
		replicas, status, err := r.podsMetric(in, spec.Pods)
		if err != nil {
			return 0, "", autoscalingv2.MetricStatus{}, &metricError{ReasonFailedGetPodsMetric, "failed to get pods metric value", err}
		}
		return replicas, "pods metric " + spec.Pods.Metric.Name, autoscalingv2.MetricStatus{Type: spec.Type, Pods: status}, nil
	case spec.Type == autoscalingv2.ObjectMetricSourceType && spec.Object != nil:
		replicas, status, err := r.objectMetric(in, spec.Object)
		if err != nil {
			return 0, "", autoscalingv2.MetricStatus{}, &metricError{ReasonFailedGetObjectMetric, "failed to get object metric value", err}
		}
		metric := fmt.Sprintf("%s metric %s", spec.Object.DescribedObject.Kind, spec.Object.Metric.Name)
		return replicas, metric, autoscalingv2.MetricStatus{Type: spec.Type, Object: status}, nil
	case spec.Type == autoscalingv2.ExternalMetricSourceType && spec.External != nil:
		replicas, metric, status, err := r.externalMetric(in, spec.External)
		if err != nil {
			return 0, "", autoscalingv2.MetricStatus{}, &metricError{ReasonFailedGetExternalMetric, fmt.Sprintf("failed to get %s external metric value", spec.External.Metric.Name), err}
		}
		return replicas, metric, autoscalingv2.MetricStatus{Type: spec.Type, External: status}, nil
	}
	err := fmt.Errorf("unknown metric source type %q, or its source is unset", spec.Type)
	return 0, "", autoscalingv2.MetricStatus{}, &metricError{ReasonInvalidMetricSourceType, "invalid metric", err}
}

// resourceMetric evaluates a Resource or ContainerResource metric (container set) against
// the metrics server's usage.
func (r *Reconciler) resourceMetric(in metricInput, name corev1.ResourceName, container string, target autoscalingv2.MetricTarget) (int32, string, autoscalingv2.MetricValueStatus, error) {
	var none autoscalingv2.MetricValueStatus
	what := "utilization"
	switch {
	case target.AverageValue != nil:
		what = "usage"
	case target.AverageUtilization == nil:
		return 0, "", none, errors.New("invalid resource metric source: neither an average utilization target nor an average value (usage) target was set")
	}
	usage, err := resourceUsage(r.ResourceMetrics, in.pods, name, container)
	if err != nil {
		return 0, "", none, fmt.Errorf("failed to get %s %s: unable to get metrics for resource %s: %w", name, what, name, err)
	}
	if target.AverageValue != nil {
		replicas, average, err := in.calc.averageReplicas(in.pods, usage, in.specReplicas, target.AverageValue.MilliValue(), name)
		if err != nil {
			return 0, "", none, fmt.Errorf("failed to get %s usage: %w", name, err)
		}
		return replicas, fmt.Sprintf("%s resource", name), autoscalingv2.MetricValueStatus{AverageValue: quantity(name, average)}, nil
	}
	replicas, utilization, average, err := in.calc.utilizationReplicas(in.pods, usage, in.specReplicas, *target.AverageUtilization, name, container)
	if err != nil {
		return 0, "", none, fmt.Errorf("failed to get %s utilization: %w", name, err)
	}
	metric := fmt.Sprintf("%s resource utilization (percentage of request)", name)
	if container != "" {
		metric = fmt.Sprintf("%s container resource utilization (percentage of request)", name)
	}
	return replicas, metric, autoscalingv2.MetricValueStatus{AverageUtilization: &utilization, AverageValue: quantity(name, average)}, nil
}

// quantity is a milli-value of resource formatted as the metrics server formats it:
// memory in binary units, anything else in decimal ones.
func quantity(name corev1.ResourceName, milli int64) *resource.Quantity {
	format := resource.DecimalSI
	if name == corev1.ResourceMemory {
		format = resource.BinarySI
	}
	return resource.NewMilliQuantity(milli, format)
}

// podsMetric evaluates a Pods metric, an average over the target's pods.
func (r *Reconciler) podsMetric(in metricInput, src *autoscalingv2.PodsMetricSource) (int32, *autoscalingv2.PodsMetricStatus, error) {
	if src.Target.AverageValue == nil {
		return 0, nil, errors.New("invalid pods metric source: no average value target was set")
	}
	metricSelector, err := metav1.LabelSelectorAsSelector(src.Metric.Selector)
	if err != nil {
		return 0, nil, err
	}
	values, err := r.MetricsAPIs.PodsMetric(in.hpa.Namespace, src.Metric.Name, in.selector, metricSelector)
	if err != nil {
		return 0, nil, fmt.Errorf("unable to get metric %s: %w", src.Metric.Name, err)
	}
	replicas, average, err := in.calc.averageReplicas(in.pods, values, in.specReplicas, src.Target.AverageValue.MilliValue(), "")
	if err != nil {
		return 0, nil, err
	}
	current := autoscalingv2.MetricValueStatus{AverageValue: resource.NewMilliQuantity(average, resource.DecimalSI)}
	return replicas, &autoscalingv2.PodsMetricStatus{Metric: src.Metric, Current: current}, nil
}

// objectMetric evaluates an Object metric: its Value target against the ready pods, or its
// AverageValue target per pod of the target's scale.
func (r *Reconciler) objectMetric(in metricInput, src *autoscalingv2.ObjectMetricSource) (int32, *autoscalingv2.ObjectMetricStatus, error) {
	metricSelector, err := metav1.LabelSelectorAsSelector(src.Metric.Selector)
	if err != nil {
		return 0, nil, err
	}
	status := &autoscalingv2.ObjectMetricStatus{DescribedObject: src.DescribedObject, Metric: src.Metric}
	t := src.Target
	valued := t.Type == autoscalingv2.ValueMetricType && t.Value != nil
	if !valued && (t.Type != autoscalingv2.AverageValueMetricType || t.AverageValue == nil) {
		return 0, nil, errors.New("invalid object metric source: neither a value target nor an average value target was set")
	}
	usage, err := r.MetricsAPIs.ObjectMetric(in.hpa.Namespace, src.Metric.Name, src.DescribedObject, metricSelector)
	if err != nil {
		return 0, nil, fmt.Errorf("unable to get metric %s on %s %s/%s: %w", src.Metric.Name, src.DescribedObject.Kind, in.hpa.Namespace, src.DescribedObject.Name, err)
	}
	if valued {
		replicas, err := in.calc.objectReplicas(in.pods, in.specReplicas, usage, t.Value.MilliValue())
		status.Current.Value = resource.NewMilliQuantity(usage, resource.DecimalSI)
		return replicas, status, err
	}
	replicas, average, err := in.calc.perPodReplicas(in.statusReplicas, usage, t.AverageValue.MilliValue())
	status.Current.AverageValue = resource.NewMilliQuantity(average, resource.DecimalSI)
	return replicas, status, err
}

// externalMetric evaluates an External metric, the sum of the values its selector
// matches: its AverageValue target per pod of the target's scale, or its Value target
// against the ready pods.
func (r *Reconciler) externalMetric(in metricInput, src *autoscalingv2.ExternalMetricSource) (int32, string, *autoscalingv2.ExternalMetricStatus, error) {
	t := src.Target
	if t.AverageValue == nil && t.Value == nil {
		return 0, "", nil, errors.New("invalid external metric source: neither a value target nor an average value target was set")
	}
	metricSelector, err := metav1.LabelSelectorAsSelector(src.Metric.Selector)
	if err != nil {
		return 0, "", nil, err
	}
	metric := fmt.Sprintf("external metric %s(%s)", src.Metric.Name, metricSelector)
	values, err := r.MetricsAPIs.ExternalMetric(in.hpa.Namespace, src.Metric.Name, metricSelector)
	if err != nil {
		return 0, "", nil, fmt.Errorf("unable to get external metric %s/%s/%s: %w", in.hpa.Namespace, src.Metric.Name, metricSelector, err)
	}
	usage := saturatingSum(values)
	status := &autoscalingv2.ExternalMetricStatus{Metric: src.Metric}
	if t.AverageValue != nil {
		replicas, average, err := in.calc.perPodReplicas(in.statusReplicas, usage, t.AverageValue.MilliValue())
		status.Current.AverageValue = resource.NewMilliQuantity(average, resource.DecimalSI)
		return replicas, metric, status, err
	}
	replicas, err := in.calc.objectReplicas(in.pods, in.specReplicas, usage, t.Value.MilliValue())
	status.Current.Value = resource.NewMilliQuantity(usage, resource.DecimalSI)
	return replicas, metric, status, err
}
