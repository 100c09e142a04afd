package horizontalpodautoscaler_test

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/types"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	appsv1alpha1 "github.com/kybern/kybern/api/apps/v1alpha1"
	autoscalingv1alpha1 "github.com/kybern/kybern/api/autoscaling/v1alpha1"
	hpactl "github.com/kybern/kybern/controllers/horizontalpodautoscaler"
	"github.com/kybern/kybern/test/testenv"
)

// newDeployment is a Deployment of replicas pods whose one container requests 100m CPU.
func newDeployment(ns string, replicas int32) *appsv1alpha1.Deployment {
	d := &appsv1alpha1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "web"}}
	d.Spec.Replicas = ptr.To(replicas)
	d.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}
	d.Spec.Template.Labels = map[string]string{"app": "web"}
	d.Spec.Template.Spec.Containers = []corev1.Container{{Name: "web", Image: "busybox",
		Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m")}}}}
	return d
}

// newHPA scales the Deployment web between 1 and maxReplicas at 50% of requested CPU.
func newHPA(ns string, maxReplicas int32) *autoscalingv1alpha1.HorizontalPodAutoscaler {
	h := &autoscalingv1alpha1.HorizontalPodAutoscaler{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "web"}}
	h.Spec = autoscalingv2.HorizontalPodAutoscalerSpec{
		ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{APIVersion: appsv1alpha1.GroupVersion.String(), Kind: "Deployment", Name: "web"},
		MinReplicas:    ptr.To[int32](1),
		MaxReplicas:    maxReplicas,
		Metrics: []autoscalingv2.MetricSpec{{Type: autoscalingv2.ResourceMetricSourceType, Resource: &autoscalingv2.ResourceMetricSource{
			Name: corev1.ResourceCPU, Target: autoscalingv2.MetricTarget{Type: autoscalingv2.UtilizationMetricType, AverageUtilization: ptr.To[int32](50)}}}},
	}
	return h
}

// running creates d and waits for its pods to be ready, the scale selector reported.
func running(d *appsv1alpha1.Deployment) {
	ExpectWithOffset(1, k8s.Create(ctx, d)).To(Succeed())
	EventuallyWithOffset(1, func(g Gomega) {
		g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(d), d)).To(Succeed())
		g.Expect(d.Status.ReadyReplicas).To(Equal(*d.Spec.Replicas))
		g.Expect(d.Status.LabelSelector).NotTo(BeEmpty())
	}).Should(Succeed())
}

func replicasOf(d *appsv1alpha1.Deployment) func(Gomega) int32 {
	return func(g Gomega) int32 {
		got := &appsv1alpha1.Deployment{}
		g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(d), got)).To(Succeed())
		return *got.Spec.Replicas
	}
}

func statusOf(h *autoscalingv1alpha1.HorizontalPodAutoscaler) func(Gomega) autoscalingv2.HorizontalPodAutoscalerStatus {
	return func(g Gomega) autoscalingv2.HorizontalPodAutoscalerStatus {
		got := &autoscalingv1alpha1.HorizontalPodAutoscaler{}
		g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(h), got)).To(Succeed())
		return got.Status
	}
}

// haveCondition matches a status with the condition of type kind, status and reason.
func haveCondition(kind autoscalingv2.HorizontalPodAutoscalerConditionType, status corev1.ConditionStatus, reason string, more ...types.GomegaMatcher) types.GomegaMatcher {
	return HaveField("Conditions", ContainElement(And(append([]types.GomegaMatcher{
		HaveField("Type", kind), HaveField("Status", status), HaveField("Reason", reason)}, more...)...)))
}

func event(kind, reason, message string) types.GomegaMatcher {
	return ContainElement(And(HaveField("Type", kind), HaveField("Reason", reason), HaveField("Message", ContainSubstring(message))))
}

var _ = Describe("The HorizontalPodAutoscaler controller", func() {
	var ns string
	BeforeEach(func() {
		var err error
		ns, err = env.NewNamespace(ctx, "hpa-test")
		Expect(err).NotTo(HaveOccurred())
	})

	It("scales up under load within one sync, naming the metric", func() {
		startNode(ns, 100) // 1 pod at 100% of its request, twice the 50% target.
		d := newDeployment(ns, 1)
		running(d)
		h := newHPA(ns, 10)
		Expect(k8s.Create(ctx, h)).To(Succeed())
		Eventually(replicasOf(d), 2*syncPeriod).Should(BeEquivalentTo(2))
		Eventually(testenv.EventsOf(ctx, k8s, h, "HorizontalPodAutoscaler")).Should(event(corev1.EventTypeNormal, hpactl.EventSuccessfulRescale,
			"New size: 2; reason: cpu resource utilization (percentage of request) above target"))

		By("settling at 2 once the load per pod is at the target")
		Eventually(statusOf(h)).Should(And(
			HaveField("CurrentReplicas", BeEquivalentTo(2)), HaveField("DesiredReplicas", BeEquivalentTo(2)),
			HaveField("LastScaleTime", Not(BeNil())), HaveField("ObservedGeneration", HaveValue(Equal(h.Generation))),
			HaveField("CurrentMetrics", ConsistOf(HaveField("Resource.Current.AverageUtilization", HaveValue(BeEquivalentTo(50))))),
			haveCondition(autoscalingv2.AbleToScale, corev1.ConditionTrue, hpactl.ReasonReadyForNewScale),
			haveCondition(autoscalingv2.ScalingActive, corev1.ConditionTrue, hpactl.ReasonValidMetricFound,
				HaveField("Message", "the HPA was able to successfully calculate a replica count from cpu resource utilization (percentage of request)")),
			haveCondition(autoscalingv2.ScalingLimited, corev1.ConditionFalse, hpactl.ReasonDesiredWithinRange)))
		Consistently(replicasOf(d), 3*syncPeriod).Should(BeEquivalentTo(2))
	})

	It("scales down only after the stabilization window", func() {
		const window = 4 * time.Second
		node := startNode(ns, 100)
		d := newDeployment(ns, 1)
		running(d)
		h := newHPA(ns, 10)
		h.Spec.Behavior = &autoscalingv2.HorizontalPodAutoscalerBehavior{ScaleDown: &autoscalingv2.HPAScalingRules{StabilizationWindowSeconds: ptr.To(int32(window / time.Second))}}
		Expect(k8s.Create(ctx, h)).To(Succeed())
		Eventually(replicasOf(d)).Should(BeEquivalentTo(2))

		node.setLoad(10) // 10% of the target: 1 replica would do.
		idle := time.Now()
		Eventually(statusOf(h)).Should(haveCondition(autoscalingv2.AbleToScale, corev1.ConditionTrue, hpactl.ReasonScaleDownStabilized))
		Expect(replicasOf(d)(Default)).To(BeEquivalentTo(2))
		Eventually(replicasOf(d), window+3*syncPeriod).Should(BeEquivalentTo(1))
		// The last loaded recommendation may be a sync older than the load's end.
		Expect(time.Since(idle)).To(BeNumerically(">=", window-syncPeriod))
		Eventually(testenv.EventsOf(ctx, k8s, h, "HorizontalPodAutoscaler")).Should(event(corev1.EventTypeNormal, hpactl.EventSuccessfulRescale,
			"New size: 1; reason: All metrics below target"))
	})

	It("limits a scale up to its policy's step", func() {
		startNode(ns, 500) // 10 times the target: 10 replicas wanted.
		d := newDeployment(ns, 1)
		running(d)
		h := newHPA(ns, 10)
		h.Spec.Behavior = &autoscalingv2.HorizontalPodAutoscalerBehavior{ScaleUp: &autoscalingv2.HPAScalingRules{
			Policies: []autoscalingv2.HPAScalingPolicy{{Type: autoscalingv2.PodsScalingPolicy, Value: 1, PeriodSeconds: 60}}}}
		Expect(k8s.Create(ctx, h)).To(Succeed())
		Eventually(replicasOf(d)).Should(BeEquivalentTo(2))
		Eventually(statusOf(h)).Should(haveCondition(autoscalingv2.ScalingLimited, corev1.ConditionTrue, hpactl.ReasonScaleUpLimit,
			HaveField("Message", "the desired replica count is increasing faster than the maximum scale rate")))
		Consistently(replicasOf(d), 3*syncPeriod).Should(BeEquivalentTo(2))
	})

	It("stops at maxReplicas and says so", func() {
		startNode(ns, 500)
		d := newDeployment(ns, 1)
		running(d)
		Expect(k8s.Create(ctx, newHPA(ns, 3))).To(Succeed())
		Eventually(replicasOf(d)).Should(BeEquivalentTo(3))
		Eventually(statusOf(newHPA(ns, 3))).Should(And(HaveField("CurrentReplicas", BeEquivalentTo(3)),
			haveCondition(autoscalingv2.ScalingLimited, corev1.ConditionTrue, hpactl.ReasonTooManyReplicas)))
		Consistently(replicasOf(d), 3*syncPeriod).Should(BeEquivalentTo(3))
	})

	It("reports pods without metrics as FailedGetResourceMetric", func() {
		startNode(ns, -1)
		d := newDeployment(ns, 2)
		running(d)
		h := newHPA(ns, 10)
		Expect(k8s.Create(ctx, h)).To(Succeed())
		Eventually(statusOf(h)).Should(haveCondition(autoscalingv2.ScalingActive, corev1.ConditionFalse, hpactl.ReasonFailedGetResourceMetric,
			HaveField("Message", "the HPA was unable to compute the replica count: failed to get cpu utilization: unable to get metrics for resource cpu: no metrics returned from resource metrics API")))
		events := testenv.EventsOf(ctx, k8s, h, "HorizontalPodAutoscaler")
		Eventually(events).Should(event(corev1.EventTypeWarning, hpactl.ReasonFailedGetResourceMetric, "no metrics returned from resource metrics API"))
		Eventually(events).Should(event(corev1.EventTypeWarning, hpactl.EventFailedComputeMetricsReplicas, "invalid metrics (1 invalid out of 1)"))
		Expect(replicasOf(d)(Default)).To(BeEquivalentTo(2))
	})

	It("reports a Pods metric as FailedGetPodsMetric when no adapter serves custom metrics", func() {
		startNode(ns, 50)
		running(newDeployment(ns, 1))
		h := newHPA(ns, 10)
		h.Spec.Metrics = []autoscalingv2.MetricSpec{{Type: autoscalingv2.PodsMetricSourceType, Pods: &autoscalingv2.PodsMetricSource{
			Metric: autoscalingv2.MetricIdentifier{Name: "requests_per_second"},
			Target: autoscalingv2.MetricTarget{Type: autoscalingv2.AverageValueMetricType, AverageValue: ptr.To(resource.MustParse("10"))}}}}
		Expect(k8s.Create(ctx, h)).To(Succeed())
		Eventually(statusOf(h)).Should(haveCondition(autoscalingv2.ScalingActive, corev1.ConditionFalse, hpactl.ReasonFailedGetPodsMetric,
			HaveField("Message", And(ContainSubstring("the custom.metrics.k8s.io API is not served"), ContainSubstring("APIService")))))
	})

	It("reports a target kind that does not exist as FailedGetScale", func() {
		h := newHPA(ns, 10)
		h.Spec.ScaleTargetRef.Kind = "Nonexistent"
		Expect(k8s.Create(ctx, h)).To(Succeed())
		Eventually(statusOf(h)).Should(haveCondition(autoscalingv2.AbleToScale, corev1.ConditionFalse, hpactl.ReasonFailedGetScale,
			HaveField("Message", And(HavePrefix("the HPA controller was unable to get the target's current scale: "), ContainSubstring(`"Nonexistent"`)))))
		Eventually(testenv.EventsOf(ctx, k8s, h, "HorizontalPodAutoscaler")).Should(event(corev1.EventTypeWarning, hpactl.ReasonFailedGetScale, "Nonexistent"))
	})
})
