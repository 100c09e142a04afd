package e2e

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/utils/ptr"

	"github.com/kybern/kybern/node-agent/podworker"
)

var _ = Describe("Resources and security contexts on real containers", Ordered, func() {
	var ns string
	BeforeAll(func() { startAgent("e2e-a") })
	BeforeEach(func() {
		var err error
		ns, err = env.NewNamespace(ctx, "e2e-res")
		Expect(err).NotTo(HaveOccurred())
	})

	It("turns requests and limits into the container's cgroup settings", func() {
		// cgroup v1 paths first, then v2's, whichever the host has.
		p := newPod(ns, "limited", corev1.RestartPolicyNever, "sh", "-c", `
echo "memory=$(cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max)"
echo "quota=$(cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us 2>/dev/null || cut -d' ' -f1 /sys/fs/cgroup/cpu.max)"
echo "shares=$(cat /sys/fs/cgroup/cpu/cpu.shares 2>/dev/null || echo v2)"
echo "oom=$(cat /proc/self/oom_score_adj)"
`)
		p.Spec.Containers[0].Resources = corev1.ResourceRequirements{
			Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("250m"), corev1.ResourceMemory: resource.MustParse("32Mi")},
			Limits:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("500m"), corev1.ResourceMemory: resource.MustParse("64Mi")}}
		Expect(k8s.Create(ctx, p)).To(Succeed())
		Eventually(current(p)).Should(HaveField("Status.Phase", corev1.PodSucceeded))
		Expect(current(p)()).To(HaveField("Status.QOSClass", corev1.PodQOSBurstable))
		Eventually(logOf(p, "main", 0)).Should(ContainSubstring("stdout F oom="))
		log, err := logOf(p, "main", 0)()
		Expect(err).NotTo(HaveOccurred())
		Expect(log).To(ContainSubstring("stdout F memory=67108864"))
		Expect(log).To(ContainSubstring("stdout F quota=50000"))
		Expect(log).To(MatchRegexp(`stdout F shares=(256|v2)`))
		Expect(log).To(MatchRegexp(`stdout F oom=(9\d\d)\n`), "a Burstable container's OOM score is between 3 and 999")
	})

	It("reports a container killed for exceeding its memory limit as OOMKilled", func() {
		p := newPod(ns, "hog", corev1.RestartPolicyNever, "dd", "if=/dev/zero", "of=/dev/null", "bs=64M", "count=1")
		p.Spec.Containers[0].Resources.Limits = corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("16Mi")}
		Expect(k8s.Create(ctx, p)).To(Succeed())
		Eventually(current(p)).Should(And(HaveField("Status.Phase", corev1.PodFailed),
			HaveField("Status.ContainerStatuses", ConsistOf(HaveField("State.Terminated", And(Not(BeNil()),
				HaveField("Reason", "OOMKilled"), HaveField("ExitCode", int32(137))))))))
	})

	It("runs as the user and group it asks for, with a read-only root and only the capabilities it keeps", func() {
		p := newPod(ns, "locked", corev1.RestartPolicyNever, "sh", "-c", `
echo "ids=$(id -u):$(id -g)"
touch /written 2>/dev/null && echo "root writable" || echo "root read-only"
echo "caps=$(grep CapEff /proc/self/status | cut -f2)"
`)
		p.Spec.SecurityContext = &corev1.PodSecurityContext{RunAsGroup: ptr.To[int64](3000), RunAsNonRoot: ptr.To(true)}
		p.Spec.Containers[0].SecurityContext = &corev1.SecurityContext{RunAsUser: ptr.To[int64](1000), ReadOnlyRootFilesystem: ptr.To(true),
			Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}, Add: []corev1.Capability{"NET_BIND_SERVICE"}}}
		Expect(k8s.Create(ctx, p)).To(Succeed())
		Eventually(current(p)).Should(HaveField("Status.Phase", corev1.PodSucceeded))
		Eventually(logOf(p, "main", 0)).Should(ContainSubstring("stdout F caps="))
		log, err := logOf(p, "main", 0)()
		Expect(err).NotTo(HaveOccurred())
		Expect(log).To(ContainSubstring("stdout F ids=1000:3000"))
		Expect(log).To(ContainSubstring("stdout F root read-only"))
		// A non-root process keeps no effective capabilities; what matters is that none
		// beyond NET_BIND_SERVICE (bit 10) is left.
		Expect(log).To(MatchRegexp(`stdout F caps=0000000000000(000|400)\n`))
	})
	It("refuses to run as root a container with runAsNonRoot, as the kubelet does", func() {
		p := newPod(ns, "nonroot", corev1.RestartPolicyNever, "id", "-u")
		p.Spec.SecurityContext = &corev1.PodSecurityContext{RunAsNonRoot: ptr.To(true)}
		Expect(k8s.Create(ctx, p)).To(Succeed())
		Eventually(current(p)).Should(HaveField("Status.ContainerStatuses", ConsistOf(HaveField("State.Waiting", And(Not(BeNil()),
			HaveField("Reason", podworker.ReasonCreateContainerConfigErr),
			HaveField("Message", ContainSubstring("container has runAsNonRoot and image will run as root")))))))
	})
	It("applies fsGroup, supplementalGroups and the runtime's default seccomp profile", func() {
		p := newPod(ns, "groups", corev1.RestartPolicyNever, "sh", "-c", `
echo "groups=$(id -G)"
echo "seccomp=$(grep '^Seccomp:' /proc/self/status | cut -f2)"
echo "owner=$(stat -c %g /data)"
touch /data/file && echo "written as $(stat -c %u:%g /data/file)"
`)
		p.Spec.SecurityContext = &corev1.PodSecurityContext{RunAsUser: ptr.To[int64](1000), FSGroup: ptr.To[int64](2000),
			SupplementalGroups: []int64{3000}, SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}}
		p.Spec.Volumes = []corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}}
		p.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "data", MountPath: "/data"}}
		Expect(k8s.Create(ctx, p)).To(Succeed())
		Eventually(current(p)).Should(HaveField("Status.Phase", corev1.PodSucceeded))
		Eventually(logOf(p, "main", 0)).Should(ContainSubstring("stdout F written as"))
		log, err := logOf(p, "main", 0)()
		Expect(err).NotTo(HaveOccurred())
		Expect(log).To(MatchRegexp(`stdout F groups=.*\b3000\b`))
		Expect(log).To(MatchRegexp(`stdout F groups=.*\b2000\b`))
		Expect(log).To(ContainSubstring("stdout F seccomp=2\n"))
		Expect(log).To(ContainSubstring("stdout F owner=2000\n"))
		// The set-group-ID directory gives new files the pod's fsGroup.
		Expect(log).To(ContainSubstring("stdout F written as 1000:2000\n"))
	})
})
