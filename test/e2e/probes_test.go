package e2e

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
	"github.com/kybern/kybern/node-agent/podworker"
)

// webPod serves /www/index.html on port 8080 with busybox httpd.
func webPod(ns, name string) *corev1alpha1.Pod {
	p := newPod(ns, name, corev1.RestartPolicyAlways, "sh", "-c", "mkdir -p /www && echo ok > /www/index.html && exec httpd -f -p 8080 -h /www")
	p.Spec.Containers[0].Ports = []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}}
	return p
}

func readyCondition(p *corev1alpha1.Pod) corev1.ConditionStatus {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status
		}
	}
	return corev1.ConditionUnknown
}

var _ = Describe("Probes on real containers", Ordered, func() {
	var ns string
	BeforeAll(func() { startAgent("e2e-a") })
	BeforeEach(func() {
		var err error
		ns, err = env.NewNamespace(ctx, "e2e-probe")
		Expect(err).NotTo(HaveOccurred())
	})

	It("makes a pod Ready once its httpGet readiness probe succeeds, and keeps one whose probe gets 404 unready", func() {
		good := webPod(ns, "good")
		good.Spec.Containers[0].ReadinessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{
			Path: "/index.html", Port: intstr.FromString("http"), HTTPHeaders: []corev1.HTTPHeader{{Name: "X-Probe", Value: "kybern"}}}},
			PeriodSeconds: 1, TimeoutSeconds: 1, SuccessThreshold: 1, FailureThreshold: 3}
		missing := webPod(ns, "missing")
		missing.Spec.Containers[0].ReadinessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{
			Path: "/nothing-here", Port: intstr.FromInt32(8080)}}, PeriodSeconds: 1, TimeoutSeconds: 1, SuccessThreshold: 1, FailureThreshold: 3}
		Expect(k8s.Create(ctx, good)).To(Succeed())
		Expect(k8s.Create(ctx, missing)).To(Succeed())
		Eventually(func() (corev1.ConditionStatus, error) {
			p, err := current(good)()
			return readyCondition(p), err
		}).Should(Equal(corev1.ConditionTrue))
		Eventually(current(missing)).Should(HaveField("Status.ContainerStatuses", ConsistOf(HaveField("State.Running", Not(BeNil())))))
		Consistently(func() (corev1.ConditionStatus, error) {
			p, err := current(missing)()
			return readyCondition(p), err
		}, 4*time.Second).Should(Equal(corev1.ConditionFalse))
	})

	It("keeps a pod whose tcpSocket probe names a port nothing listens on unready, and serves the others", func() {
		closed := webPod(ns, "closed")
		closed.Spec.Containers[0].ReadinessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt32(9999)}},
			PeriodSeconds: 1, TimeoutSeconds: 1, SuccessThreshold: 1, FailureThreshold: 1}
		open := webPod(ns, "open")
		open.Spec.Containers[0].ReadinessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt32(8080)}},
			PeriodSeconds: 1, TimeoutSeconds: 1, SuccessThreshold: 1, FailureThreshold: 1}
		Expect(k8s.Create(ctx, closed)).To(Succeed())
		Expect(k8s.Create(ctx, open)).To(Succeed())
		Eventually(func() (corev1.ConditionStatus, error) {
			p, err := current(open)()
			return readyCondition(p), err
		}).Should(Equal(corev1.ConditionTrue))
		Expect(current(closed)()).To(HaveField("Status.ContainerStatuses", ConsistOf(And(HaveField("Ready", false), HaveField("State.Running", Not(BeNil()))))))
	})

	It("restarts a container whose exec liveness probe fails, saying why in lastState", func() {
		p := newPod(ns, "sick", corev1.RestartPolicyAlways, "sh", "-c", "touch /tmp/healthy; sleep 3; rm /tmp/healthy; sleep 3600")
		p.Spec.Containers[0].LivenessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"cat", "/tmp/healthy"}}},
			PeriodSeconds: 1, TimeoutSeconds: 1, SuccessThreshold: 1, FailureThreshold: 2}
		p.Spec.TerminationGracePeriodSeconds = new(int64(1))
		Expect(k8s.Create(ctx, p)).To(Succeed())
		Eventually(current(p), 30*time.Second).Should(HaveField("Status.ContainerStatuses", ConsistOf(And(
			HaveField("RestartCount", BeNumerically(">=", 1)),
			HaveField("LastTerminationState.Terminated.Message", And(
				ContainSubstring("Container main failed liveness probe, will be restarted"), ContainSubstring("No such file or directory")))))))
	})

	It("holds liveness back until the startup probe succeeds", func() {
		p := newPod(ns, "slow", corev1.RestartPolicyAlways, "sh", "-c", "sleep 4; touch /tmp/started; sleep 3600")
		p.Spec.Containers[0].StartupProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"cat", "/tmp/started"}}},
			PeriodSeconds: 1, TimeoutSeconds: 1, SuccessThreshold: 1, FailureThreshold: 30}
		p.Spec.Containers[0].LivenessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"cat", "/tmp/started"}}},
			PeriodSeconds: 1, TimeoutSeconds: 1, SuccessThreshold: 1, FailureThreshold: 1}
		Expect(k8s.Create(ctx, p)).To(Succeed())
		Eventually(current(p)).Should(HaveField("Status.ContainerStatuses", ConsistOf(And(
			HaveField("State.Running", Not(BeNil())), HaveField("Started", HaveValue(BeFalse()))))))
		Eventually(current(p), 20*time.Second).Should(HaveField("Status.ContainerStatuses", ConsistOf(And(
			HaveField("Started", HaveValue(BeTrue())), HaveField("Ready", true)))))
		Expect(current(p)()).To(HaveField("Status.ContainerStatuses", ConsistOf(HaveField("RestartCount", int32(0)))),
			"the liveness probe, which fails until the file exists, must not run before the startup probe succeeded")
	})

	It("keeps a pod with a readiness gate unready until another controller sets the gate's condition True", func() {
		p := newPod(ns, "gated", corev1.RestartPolicyNever, "sleep", "3600")
		p.Spec.ReadinessGates = []corev1.PodReadinessGate{{ConditionType: "example.com/registered"}}
		Expect(k8s.Create(ctx, p)).To(Succeed())
		Eventually(current(p)).Should(HaveField("Status.Conditions", ContainElements(
			And(HaveField("Type", corev1.ContainersReady), HaveField("Status", corev1.ConditionTrue)),
			And(HaveField("Type", corev1.PodReady), HaveField("Status", corev1.ConditionFalse),
				HaveField("Reason", podworker.ReasonReadinessGatesNotReady),
				HaveField("Message", `corresponding condition of pod readiness gate "example.com/registered" does not exist.`)))))

		By("setting the gate's condition, as a load balancer controller would")
		// The agent writes the same status: a conflict is read again, as a controller would.
		Eventually(func() error {
			got, err := current(p)()
			if err != nil {
				return err
			}
			got.Status.Conditions = append(got.Status.Conditions, corev1.PodCondition{Type: "example.com/registered", Status: corev1.ConditionTrue,
				LastTransitionTime: metav1.Now()})
			return k8s.Status().Update(ctx, got)
		}).Should(Succeed())
		Eventually(func() (corev1.ConditionStatus, error) {
			p, err := current(p)()
			return readyCondition(p), err
		}).Should(Equal(corev1.ConditionTrue))
		Expect(current(p)()).To(HaveField("Status.Conditions", ContainElement(HaveField("Type", corev1.PodConditionType("example.com/registered")))),
			"the agent keeps the condition it does not own")
	})
})
