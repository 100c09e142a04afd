package e2e

import (
	"os"
	"path/filepath"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

var _ = Describe("Lifecycle hooks and deadlines on real containers", Ordered, func() {
	var ns string
	BeforeAll(func() { startAgent("e2e-a") })
	BeforeEach(func() {
		var err error
		ns, err = env.NewPodSecurityNamespace(ctx, "e2e-life", "privileged")
		Expect(err).NotTo(HaveOccurred())
	})

	It("runs postStart inside the started container and preStop before SIGTERM", func() {
		hostDir := filepath.Join(work, "hooks-"+ns)
		p := newPod(ns, "hooked", corev1.RestartPolicyAlways, "sh", "-c", `while [ ! -f /tmp/started ]; do sleep 0.1; done; echo "saw $(cat /tmp/started)"; exec sleep 3600`)
		p.Spec.TerminationGracePeriodSeconds = ptr.To[int64](5)
		p.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "host", MountPath: "/host"}}
		p.Spec.Volumes = []corev1.Volume{{Name: "host", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{
			Path: hostDir, Type: ptr.To(corev1.HostPathDirectoryOrCreate)}}}}
		p.Spec.Containers[0].Lifecycle = &corev1.Lifecycle{
			PostStart: &corev1.LifecycleHandler{Exec: &corev1.ExecAction{Command: []string{"sh", "-c", "echo hello > /tmp/started"}}},
			PreStop:   &corev1.LifecycleHandler{Exec: &corev1.ExecAction{Command: []string{"sh", "-c", "echo stopping > /host/prestop"}}},
		}
		Expect(k8s.Create(ctx, p)).To(Succeed())
		Eventually(logOf(p, "main", 0)).Should(ContainSubstring("stdout F saw hello"))
		got, err := current(p)()
		Expect(err).NotTo(HaveOccurred())
		Expect(k8s.Delete(ctx, got)).To(Succeed())
		Eventually(func() bool {
			_, err := current(p)()
			return apierrors.IsNotFound(err)
		}, 30*time.Second).Should(BeTrue())
		Expect(os.ReadFile(filepath.Join(hostDir, "prestop"))).To(Equal([]byte("stopping\n")))
	})

	It("kills a container whose postStart hook fails, saying so in lastState", func() {
		p := newPod(ns, "badhook", corev1.RestartPolicyNever, "sleep", "3600")
		p.Spec.TerminationGracePeriodSeconds = ptr.To[int64](1)
		p.Spec.Containers[0].Lifecycle = &corev1.Lifecycle{PostStart: &corev1.LifecycleHandler{Exec: &corev1.ExecAction{Command: []string{"sh", "-c", "echo broken; exit 3"}}}}
		Expect(k8s.Create(ctx, p)).To(Succeed())
		Eventually(current(p)).Should(And(HaveField("Status.Phase", corev1.PodFailed),
			HaveField("Status.ContainerStatuses", ConsistOf(HaveField("State.Terminated.Message", And(
				ContainSubstring("PostStartHookError"), ContainSubstring("command exited with 3: broken")))))))
	})

	It("starts a native sidecar before the main container and stops it once the main container is done", func() {
		p := newPod(ns, "with-sidecar", corev1.RestartPolicyNever, "sh", "-c", httpGet+"get 127.0.0.1 8080")
		p.Spec.TerminationGracePeriodSeconds = ptr.To[int64](2)
		p.Spec.InitContainers = []corev1.Container{{Name: "server", Image: "busybox", RestartPolicy: ptr.To(corev1.ContainerRestartPolicyAlways),
			Command: []string{"sh", "-c", "mkdir -p /www && echo from the sidecar > /www/index.html && exec httpd -f -p 8080 -h /www"},
			StartupProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt32(8080)}},
				PeriodSeconds: 1, FailureThreshold: 30, TimeoutSeconds: 1, SuccessThreshold: 1}}}
		Expect(k8s.Create(ctx, p)).To(Succeed())
		Eventually(current(p), 30*time.Second).Should(And(HaveField("Status.Phase", corev1.PodSucceeded),
			HaveField("Status.InitContainerStatuses", ConsistOf(HaveField("State.Terminated", Not(BeNil()))))))
		Eventually(logOf(p, "main", 0)).Should(ContainSubstring("stdout F from the sidecar"))
	})

	It("fails a pod that runs past its activeDeadlineSeconds", func() {
		p := newPod(ns, "deadline", corev1.RestartPolicyAlways, "sleep", "3600")
		p.Spec.ActiveDeadlineSeconds = ptr.To[int64](2)
		p.Spec.TerminationGracePeriodSeconds = ptr.To[int64](1)
		Expect(k8s.Create(ctx, p)).To(Succeed())
		Eventually(current(p), 20*time.Second).Should(And(HaveField("Status.Phase", corev1.PodFailed),
			HaveField("Status.Reason", "DeadlineExceeded"),
			HaveField("Status.ContainerStatuses", ConsistOf(HaveField("State.Terminated", Not(BeNil()))))))
	})
})
