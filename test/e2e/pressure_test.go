package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
	"github.com/kybern/kybern/test/testenv"
)

// pressureNode runs with its pods' directory on a 64 MiB tmpfs the spec mounts, so that
// a pod's emptyDir can fill it.
const pressureNode = "e2e-pressure"

func nodeCondition(name string, t corev1.NodeConditionType) func(Gomega) corev1.ConditionStatus {
	return func(g Gomega) corev1.ConditionStatus {
		n := &corev1alpha1.Node{}
		g.Expect(k8s.Get(ctx, client.ObjectKey{Name: name}, n)).To(Succeed())
		for _, c := range n.Status.Conditions {
			if c.Type == t {
				return c.Status
			}
		}
		return ""
	}
}

var _ = Describe("Node-pressure eviction", Ordered, func() {
	var ns string
	BeforeAll(func() {
		podDir := filepath.Join(work, "nodes", pressureNode, "pods")
		Expect(os.MkdirAll(podDir, 0o755)).To(Succeed())
		Expect(syscall.Mount("tmpfs", podDir, "tmpfs", 0, "size=64m")).To(Succeed())
		// Only nodefs counts: the host's memory and disks must not put the node under pressure.
		a, err := testenv.StartAgentProcessWith(work, env.Kubeconfig, pressureNode,
			"--eviction-hard=nodefs.available<24Mi,memory.available<0,imagefs.available<0,imagefs.inodesFree<0,nodefs.inodesFree<0",
			"--eviction-pressure-transition-period=15s")
		Expect(err).NotTo(HaveOccurred())
		agents[pressureNode] = a
		DeferCleanup(func() {
			retireNode(pressureNode)
			Expect(syscall.Unmount(podDir, syscall.MNT_DETACH)).To(Succeed())
		})
		awaitReady(a)
		ns, err = env.NewNamespace(ctx, "pressure")
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(func() { deletePodsIn(ns) })
	})

	filler := func(name string, mib int, limit string) *corev1alpha1.Pod {
		p := &corev1alpha1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
		p.Spec.NodeName, p.Spec.RestartPolicy = pressureNode, corev1.RestartPolicyNever
		p.Spec.TerminationGracePeriodSeconds = ptr.To[int64](1)
		p.Spec.Volumes = []corev1.Volume{{Name: "scratch", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}}
		p.Spec.Containers = []corev1.Container{{Name: "fill", Image: "busybox", VolumeMounts: []corev1.VolumeMount{{Name: "scratch", MountPath: "/scratch"}},
			Command: []string{"sh", "-c", fmt.Sprintf("dd if=/dev/zero of=/scratch/fill bs=1M count=%d; sleep 3600", mib)}}}
		if limit != "" {
			p.Spec.Containers[0].Resources.Limits = corev1.ResourceList{corev1.ResourceEphemeralStorage: resource.MustParse(limit)}
		}
		return p
	}
	evicted := func(p *corev1alpha1.Pod) func(Gomega) {
		return func(g Gomega) {
			got := &corev1alpha1.Pod{}
			g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(p), got)).To(Succeed())
			g.Expect(got.Status.Phase).To(Equal(corev1.PodFailed))
			g.Expect(got.Status.Reason).To(Equal("Evicted"))
			g.Expect(got.Status.Conditions).To(ContainElement(And(HaveField("Type", corev1.DisruptionTarget),
				HaveField("Status", corev1.ConditionTrue), HaveField("Reason", "TerminationByKubelet"))))
		}
	}

	It("reports DiskPressure when a pod fills the pods' filesystem, evicts that pod, and recovers once its data is gone", func() {
		Eventually(nodeCondition(pressureNode, corev1.NodeDiskPressure)).Should(Equal(corev1.ConditionFalse))
		p := filler("filler", 48, "")
		Expect(k8s.Create(ctx, p)).To(Succeed())
		Eventually(nodeCondition(pressureNode, corev1.NodeDiskPressure), 60*time.Second).Should(Equal(corev1.ConditionTrue))
		Eventually(evicted(p), 60*time.Second).Should(Succeed())
		got := &corev1alpha1.Pod{}
		Expect(k8s.Get(ctx, client.ObjectKeyFromObject(p), got)).To(Succeed())
		Expect(got.Status.Message).To(HavePrefix("The node was low on resource: ephemeral-storage. Threshold quantity: 24Mi, available: "))
		Eventually(func(g Gomega) []corev1.Event {
			var list corev1.EventList
			g.Expect(k8s.List(ctx, &list, client.InNamespace(ns))).To(Succeed())
			return list.Items
		}).Should(ContainElement(And(HaveField("Reason", "Evicted"), HaveField("Type", corev1.EventTypeWarning),
			HaveField("InvolvedObject.Name", p.Name), HaveField("Message", got.Status.Message))))
		// The node keeps no new pod while under pressure.
		Eventually(func(g Gomega) []corev1.Taint {
			n := &corev1alpha1.Node{}
			g.Expect(k8s.Get(ctx, client.ObjectKey{Name: pressureNode}, n)).To(Succeed())
			return n.Spec.Taints
		}).Should(ContainElement(HaveField("Key", corev1.TaintNodeDiskPressure)))

		// Deleting the pod removes its emptyDir; the condition clears after the 15 s
		// transition period.
		deletePodsIn(ns)
		Eventually(nodeCondition(pressureNode, corev1.NodeDiskPressure), 90*time.Second).Should(Equal(corev1.ConditionFalse))
	})

	It("evicts a pod whose ephemeral-storage usage exceeds its limit, without node pressure", func() {
		p := filler("over-limit", 8, "4Mi")
		Expect(k8s.Create(ctx, p)).To(Succeed())
		Eventually(evicted(p), 60*time.Second).Should(Succeed())
		got := &corev1alpha1.Pod{}
		Expect(k8s.Get(ctx, client.ObjectKeyFromObject(p), got)).To(Succeed())
		Expect(got.Status.Message).To(Equal("Pod ephemeral local storage usage exceeds the total limit of containers 4Mi. "))
		Expect(nodeCondition(pressureNode, corev1.NodeDiskPressure)(Default)).To(Equal(corev1.ConditionFalse))
	})
})
