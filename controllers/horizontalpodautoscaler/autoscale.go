package horizontalpodautoscaler

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	autoscalingv1alpha1 "github.com/kybern/kybern/api/autoscaling/v1alpha1"
	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
)

// decision is what one sync decided to scale the target to, and why.
type decision struct {
	replicas int32
	// reason is the rescale's reason in its event: "<metric> above target", say.
	reason   string
	statuses []autoscalingv2.MetricStatus
}

// autoscale evaluates hpa once and scales its target, leaving in hpa.Status what it
// observed and did, as upstream's reconcileAutoscaler (horizontal.go). Whatever goes wrong
// with the target or its metrics is reported by a condition and an event, and tried again
// at the next sync: retrying sooner would not help.
func (r *Reconciler) autoscale(ctx context.Context, hpa *autoscalingv1alpha1.HorizontalPodAutoscaler, now time.Time) {
	t, err := r.getScale(ctx, hpa)
	if err != nil {
		r.Recorder.Event(hpa, corev1.EventTypeWarning, ReasonFailedGetScale, err.Error())
		setCondition(hpa, cond(autoscalingv2.AbleToScale, corev1.ConditionFalse, ReasonFailedGetScale, "the HPA controller was unable to get the target's current scale: %v", err), now)
		return
	}
	setCondition(hpa, cond(autoscalingv2.AbleToScale, corev1.ConditionTrue, ReasonSucceededGetScale, "the HPA controller was able to get the target's current scale"), now)
	current := t.scale.Spec.Replicas
	mem := r.history.of(client.ObjectKeyFromObject(hpa), current, now)
	behavior := withDefaults(hpa.Spec.Behavior, r.Settings.DownscaleStabilization)
	minReplicas := ptr.Deref(hpa.Spec.MinReplicas, 1)

	var d decision
	switch {
	case current == 0:
		// Someone scaled the target to zero: the autoscaler stands aside until they scale
		// it up (upstream's HPAScaleToZero, which would act instead, needs minReplicas 0,
		// which the CRD refuses).
		setCondition(hpa, cond(autoscalingv2.ScalingActive, corev1.ConditionFalse, ReasonScalingDisabled, "scaling is disabled since the replica count of the target is zero"), now)
		setStatus(hpa, 0, 0, nil, false, now)
		return
	case current > hpa.Spec.MaxReplicas:
		d = decision{replicas: hpa.Spec.MaxReplicas, reason: "Current number of replicas above Spec.MaxReplicas"}
	case current < minReplicas:
		d = decision{replicas: minReplicas, reason: "Current number of replicas below Spec.MinReplicas"}
	default:
		var ok bool
		if d, ok = r.decide(ctx, hpa, t, mem, behavior, now); !ok {
			return
		}
	}
	if d.replicas == current {
		setStatus(hpa, current, current, d.statuses, false, now)
		return
	}
	if r.rescale(ctx, hpa, t, d, now) {
		mem.recordScale(behavior, current, d.replicas, now)
	}
}

// decide is the count hpa's metrics ask for, stabilized and limited; false when no metric
// could be used, which it reports.
func (r *Reconciler) decide(ctx context.Context, hpa *autoscalingv1alpha1.HorizontalPodAutoscaler, t *target, mem *memory, behavior *autoscalingv2.HorizontalPodAutoscalerBehavior, now time.Time) (decision, bool) {
	current := t.scale.Spec.Replicas
	selector, pods, err := r.selectPods(ctx, hpa, t.scale.Status.Selector, now)
	if err != nil {
		r.failMetrics(hpa, current, nil, err, now)
		return decision{}, false
	}
	p := r.propose(metricInput{
		hpa: hpa, pods: pods, selector: selector, specReplicas: current, statusReplicas: t.scale.Status.Replicas,
		calc: calculator{tolerances: r.tolerances(hpa), cpuInitializationPeriod: r.Settings.CPUInitializationPeriod, initialReadinessDelay: r.Settings.InitialReadinessDelay, now: now},
	})
	if !p.usable(current) {
		setCondition(hpa, cond(autoscalingv2.ScalingActive, corev1.ConditionFalse, p.first.reason, "the HPA was unable to compute the replica count: %v", p.first.err), now)
		r.failMetrics(hpa, current, p.statuses, p.err(), now)
		return decision{}, false
	}
	setCondition(hpa, cond(autoscalingv2.ScalingActive, corev1.ConditionTrue, ReasonValidMetricFound, "the HPA was able to successfully calculate a replica count from %s", p.metric), now)
	if p.failed > 0 {
		log.FromContext(ctx).Info("Scaling on the metrics that could be evaluated", "failed", p.err())
	}
	d := decision{replicas: p.replicas, statuses: p.statuses}
	switch {
	case p.replicas > current:
		d.reason = p.metric + " above target"
	case p.replicas < current:
		d.reason = "All metrics below target"
	}
	n := normalization{current: current, desired: p.replicas, min: ptr.Deref(hpa.Spec.MinReplicas, 1), max: hpa.Spec.MaxReplicas,
		behavior: behavior, downscaleWindow: r.Settings.DownscaleStabilization}
	var able, limited condition
	d.replicas, able, limited = mem.normalize(n, now)
	setCondition(hpa, able, now)
	setCondition(hpa, limited, now)
	return d, true
}

// failMetrics reports that no count could be computed: the status keeps the last desired
// count.
func (r *Reconciler) failMetrics(hpa *autoscalingv1alpha1.HorizontalPodAutoscaler, current int32, statuses []autoscalingv2.MetricStatus, err error, now time.Time) {
	r.Recorder.Event(hpa, corev1.EventTypeWarning, EventFailedComputeMetricsReplicas, err.Error())
	setStatus(hpa, current, hpa.Status.DesiredReplicas, statuses, false, now)
}

// rescale sets the target's replicas to d.replicas and reports whether it could.
func (r *Reconciler) rescale(ctx context.Context, hpa *autoscalingv1alpha1.HorizontalPodAutoscaler, t *target, d decision, now time.Time) bool {
	current := t.scale.Spec.Replicas
	log.FromContext(ctx).Info("Rescaling the target", "kind", t.object.GetKind(), "name", t.object.GetName(),
		"currentReplicas", current, "desiredReplicas", d.replicas, "reason", d.reason)
	if err := r.setScale(ctx, t, d.replicas); err != nil {
		r.Recorder.Eventf(hpa, corev1.EventTypeWarning, EventFailedRescale, "New size: %d; reason: %s; error: %v", d.replicas, d.reason, err)
		setCondition(hpa, cond(autoscalingv2.AbleToScale, corev1.ConditionFalse, ReasonFailedUpdateScale, "the HPA controller was unable to update the target scale: %v", err), now)
		setStatus(hpa, current, hpa.Status.DesiredReplicas, d.statuses, false, now)
		return false
	}
	setCondition(hpa, cond(autoscalingv2.AbleToScale, corev1.ConditionTrue, ReasonSucceededRescale, "the HPA controller was able to update the target scale to %d", d.replicas), now)
	r.Recorder.Eventf(hpa, corev1.EventTypeNormal, EventSuccessfulRescale, "New size: %d; reason: %s", d.replicas, d.reason)
	setStatus(hpa, current, d.replicas, d.statuses, true, now)
	return true
}

// selectPods lists the pods the target's scale selects. An empty, unparsable or shared
// selector is reported with an event and the ScalingActive condition, and returned as an
// error, as is a failure to list.
func (r *Reconciler) selectPods(ctx context.Context, hpa *autoscalingv1alpha1.HorizontalPodAutoscaler, raw string, now time.Time) (labels.Selector, []*corev1alpha1.Pod, error) {
	invalid := func(event, message string) error {
		r.Recorder.Event(hpa, corev1.EventTypeWarning, event, message)
		return errors.New(message)
	}
	if raw == "" {
		setCondition(hpa, cond(autoscalingv2.ScalingActive, corev1.ConditionFalse, ReasonInvalidSelector, "the HPA target's scale is missing a selector"), now)
		return nil, nil, invalid(EventSelectorRequired, "selector is required")
	}
	selector, err := labels.Parse(raw)
	if err != nil {
		msg := fmt.Sprintf("couldn't convert selector into a corresponding internal selector object: %v", err)
		setCondition(hpa, cond(autoscalingv2.ScalingActive, corev1.ConditionFalse, ReasonInvalidSelector, "%s", msg), now)
		return nil, nil, invalid(ReasonInvalidSelector, msg)
	}
	var list corev1alpha1.PodList
	if err := r.List(ctx, &list, client.InNamespace(hpa.Namespace), client.MatchingLabelsSelector{Selector: selector}, client.UnsafeDisableDeepCopy); err != nil {
		return nil, nil, fmt.Errorf("listing the target's pods: %w", err)
	}
	pods := make([]*corev1alpha1.Pod, len(list.Items))
	for i := range list.Items {
		pods[i] = &list.Items[i]
	}
	if others := r.history.claim(client.ObjectKeyFromObject(hpa), selector, pods); len(others) > 0 {
		msg := fmt.Sprintf("pods by selector %s are controlled by more than one HPA (e.g. %s)", raw, strings.Join(others, ", "))
		setCondition(hpa, cond(autoscalingv2.ScalingActive, corev1.ConditionFalse, ReasonAmbiguousSelector, "%s", msg), now)
		return nil, nil, invalid(ReasonAmbiguousSelector, msg)
	}
	return selector, pods, nil
}

// tolerances are the flag's tolerance, or the behavior's where it sets one.
func (r *Reconciler) tolerances(hpa *autoscalingv1alpha1.HorizontalPodAutoscaler) tolerances {
	t := tolerances{down: r.Settings.Tolerance, up: r.Settings.Tolerance}
	if b := hpa.Spec.Behavior; b != nil {
		if b.ScaleDown != nil && b.ScaleDown.Tolerance != nil {
			t.down = b.ScaleDown.Tolerance.AsApproximateFloat64()
		}
		if b.ScaleUp != nil && b.ScaleUp.Tolerance != nil {
			t.up = b.ScaleUp.Tolerance.AsApproximateFloat64()
		}
	}
	return t
}

// setStatus replaces hpa's status with what this sync saw, keeping its conditions and,
// unless it rescaled, its last scale time.
func setStatus(hpa *autoscalingv1alpha1.HorizontalPodAutoscaler, current, desired int32, metrics []autoscalingv2.MetricStatus, rescaled bool, now time.Time) {
	last := hpa.Status.LastScaleTime
	if rescaled {
		last = &metav1.Time{Time: now}
	}
	hpa.Status = autoscalingv2.HorizontalPodAutoscalerStatus{
		ObservedGeneration: ptr.To(hpa.Generation),
		LastScaleTime:      last,
		CurrentReplicas:    current,
		DesiredReplicas:    desired,
		CurrentMetrics:     metrics,
		Conditions:         hpa.Status.Conditions,
	}
}
