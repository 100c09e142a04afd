// Package horizontalpodautoscaler is the HorizontalPodAutoscaler controller: it scales a
// workload through its scale subresource so that its pods' metrics meet their targets, with
// autoscaling/v2's semantics, as kube-controller-manager's does
// (pkg/controller/podautoscaler).
//
// Every sync period (--horizontal-pod-autoscaler-sync-period) each autoscaler is evaluated
// once (horizontalpodautoscaler_controller.go, autoscale.go):
//
//  1. Read the target's scale, whatever its kind (scale.go); the scale's status.selector
//     names the pods, read from the cache.
//  2. Ask each metric for a replica count (metrics.go): Resource and ContainerResource
//     metrics from the metrics server's usage in the same manager; Pods, Object and
//     External metrics from the custom and external metrics APIs, when an adapter serves
//     them (metricsapi.go). The highest count wins. The arithmetic is replicas.go's:
//     usage over target times the pods, within the tolerance nothing changes, and pods
//     without a usable sample (missing, unready, starting with a CPU spike) damp the
//     change rather than drive it.
//  3. Stabilize and limit that count (behavior.go): with spec.behavior, the scale-up and
//     scale-down windows over recent recommendations, then the policies' rates over recent
//     scale events, with autoscaling/v2's defaults for what it leaves unset; without one,
//     upstream's older rules (the --horizontal-pod-autoscaler-downscale-stabilization
//     window, at most doubling on a scale up). Then minReplicas and maxReplicas.
//  4. Update the scale when the count differs, record an event naming the metric that
//     decided, and write the status once, with the AbleToScale, ScalingActive and
//     ScalingLimited conditions and upstream's reasons (conditions.go).
//
// Recommendations and scale events are kept in memory per autoscaler (history.go), as
// upstream keeps them: a restarted controller forgets them, and its first recommendation
// is the current count, so it does not scale down before a window has passed.
package horizontalpodautoscaler
