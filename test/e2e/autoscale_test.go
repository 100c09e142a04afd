package e2e

import (
	"regexp"
	"strconv"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	appsv1alpha1 "github.com/kybern/kybern/api/apps/v1alpha1"
	autoscalingv1alpha1 "github.com/kybern/kybern/api/autoscaling/v1alpha1"
	"github.com/kybern/kybern/test/testenv"
)

// hpaNode joins with its own identity, so that its API has a serving certificate the
// metrics server verifies.
const hpaNode = "e2e-hpa"

// burner burns a CPU while the ConfigMap's load file says "on" and idles otherwise; its
// limit (300m against a 200m request) keeps three of them within this machine's cores.
const burner = `while :; do if [ "$(cat /load/load)" = on ]; then i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done; else sleep 1; fi; done`

var _ = Describe("The horizontal pod autoscaler on real containers", Ordered, func() {
	var ns string
	BeforeAll(func() {
		join(bootstrapKubeconfig(), hpaNode)
		var err error
		ns, err = env.NewPodSecurityNamespace(ctx, "e2e-hpa", "baseline")
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(func() {
			Expect(client.IgnoreNotFound(k8s.Delete(ctx, &appsv1alpha1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "burn"}}))).To(Succeed())
			deletePodsIn(ns)
		})
	})

	It("scales a Deployment of CPU burners up from 1, shows their usage in kubectl kybern top, and scales it down after the window once the load stops", func() {
		load := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "load"}, Data: map[string]string{"load": "on"}}
		Expect(k8s.Create(ctx, load)).To(Succeed())
		d := &appsv1alpha1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "burn"}}
		d.Spec.Replicas = ptr.To[int32](1)
		d.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"app": "burn"}}
		d.Spec.Template.Labels = map[string]string{"app": "burn"}
		d.Spec.Template.Spec.NodeSelector = map[string]string{corev1.LabelHostname: hpaNode}
		d.Spec.Template.Spec.TerminationGracePeriodSeconds = ptr.To[int64](1)
		d.Spec.Template.Spec.Volumes = []corev1.Volume{{Name: "load", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
			LocalObjectReference: corev1.LocalObjectReference{Name: "load"}}}}}
		d.Spec.Template.Spec.Containers = []corev1.Container{{Name: "burn", Image: "busybox", Command: []string{"sh", "-c", burner},
			VolumeMounts: []corev1.VolumeMount{{Name: "load", MountPath: "/load"}},
			Resources: corev1.ResourceRequirements{
				Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("200m")},
				Limits:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("300m")}}}}
		Expect(k8s.Create(ctx, d)).To(Succeed())

		hpa := &autoscalingv1alpha1.HorizontalPodAutoscaler{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "burn"}}
		hpa.Spec = autoscalingv2.HorizontalPodAutoscalerSpec{
			ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{APIVersion: appsv1alpha1.GroupVersion.String(), Kind: "Deployment", Name: "burn"},
			MinReplicas:    ptr.To[int32](1), MaxReplicas: 3,
			Metrics: []autoscalingv2.MetricSpec{{Type: autoscalingv2.ResourceMetricSourceType, Resource: &autoscalingv2.ResourceMetricSource{
				Name: corev1.ResourceCPU, Target: autoscalingv2.MetricTarget{Type: autoscalingv2.UtilizationMetricType, AverageUtilization: ptr.To[int32](50)}}}},
			Behavior: &autoscalingv2.HorizontalPodAutoscalerBehavior{ScaleDown: &autoscalingv2.HPAScalingRules{StabilizationWindowSeconds: ptr.To[int32](10)}},
		}
		Expect(k8s.Create(ctx, hpa)).To(Succeed())

		By("scaling up while the pod burns more than half its request")
		Eventually(func(g Gomega) {
			g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(d), d)).To(Succeed())
			g.Expect(d.Spec.Replicas).To(HaveValue(BeNumerically(">", 1)))
		}, "2m").Should(Succeed())
		Eventually(func(g Gomega) {
			g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(hpa), hpa)).To(Succeed())
			g.Expect(hpa.Status.CurrentMetrics).NotTo(BeEmpty())
			g.Expect(hpa.Status.CurrentMetrics[0].Resource.Current.AverageUtilization).To(HaveValue(BeNumerically(">", 50)))
			g.Expect(hpa.Status.LastScaleTime).NotTo(BeNil())
		}).Should(Succeed())
		events := testenv.EventsOf(ctx, k8s, hpa, "HorizontalPodAutoscaler")
		Eventually(events).Should(ContainElement(And(HaveField("Reason", "SuccessfulRescale"), HaveField("Message", ContainSubstring("cpu resource utilization (percentage of request) above target")))))

		By("showing each burner's usage in kubectl kybern top pod")
		cpu := regexp.MustCompile(`(?m)^burn-\S+\s+(\d+)m\s+\d+Mi$`)
		Eventually(func(g Gomega) {
			out, err := plugin(ctx, ns, "top", "pod", "-l", "app=burn").CombinedOutput()
			g.Expect(err).NotTo(HaveOccurred(), string(out))
			g.Expect(string(out)).To(HavePrefix("NAME"))
			m := cpu.FindStringSubmatch(string(out))
			g.Expect(m).To(HaveLen(2), string(out))
			milli, err := strconv.Atoi(m[1])
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(milli).To(BeNumerically(">=", 100), "a burner uses at least half its request:\n%s", out)
		}).Should(Succeed())

		By("scaling down to minReplicas once the load stops and the 10 s window has passed")
		orig := load.DeepCopy()
		load.Data["load"] = "off"
		Expect(k8s.Patch(ctx, load, client.MergeFrom(orig))).To(Succeed())
		Eventually(func(g Gomega) {
			g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(d), d)).To(Succeed())
			g.Expect(d.Spec.Replicas).To(HaveValue(Equal(int32(1))))
		}, "3m").Should(Succeed())
		Eventually(events).Should(ContainElement(And(HaveField("Reason", "SuccessfulRescale"),
			HaveField("Message", "New size: 1; reason: All metrics below target"))))
	})
})
