package e2e

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
)

// shutDownNode is the node a spec shuts down, as upstream's non-graceful node shutdown.
const shutDownNode = "e2e-oos"

var _ = Describe("A node shut down and tainted out-of-service", func() {
	It("has its StatefulSet pod started on another node, with the data of its shared claim", func() {
		startAgent("e2e-a")
		startAgent(shutDownNode)
		ns, err := env.NewNamespace(ctx, "e2e-oos")
		Expect(err).NotTo(HaveOccurred())
		set := statefulSetOn(ns, shutDownNode, "e2e-a")
		set.Spec.VolumeClaimTemplates = []corev1.PersistentVolumeClaim{{ObjectMeta: metav1.ObjectMeta{Name: "data"},
			Spec: corev1.PersistentVolumeClaimSpec{StorageClassName: ptr.To("kybern-shared"), AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
				Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}}}}}
		// The first pod records its node in the claim; every pod prints what it finds there.
		set.Spec.Template.Spec.Containers = []corev1.Container{{Name: "db", Image: "busybox",
			Env:          []corev1.EnvVar{{Name: "NODE", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "spec.nodeName"}}}},
			VolumeMounts: []corev1.VolumeMount{{Name: "data", MountPath: "/data"}},
			Command:      []string{"sh", "-c", `[ -f /data/first ] || echo "$NODE" > /data/first; echo "on $NODE, data written on $(cat /data/first)"; exec sleep 3600`}}}
		Expect(k8s.Create(ctx, set)).To(Succeed())
		DeferCleanup(func() {
			Expect(k8s.Delete(ctx, set)).To(Succeed())
			deletePodsIn(ns)
		})
		pod := &corev1alpha1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "db-0"}}
		Eventually(logOf(pod, "db", 0)).Should(HaveSuffix(" stdout F on " + shutDownNode + ", data written on " + shutDownNode + "\n"))
		first, err := current(pod)()
		Expect(err).NotTo(HaveOccurred())
		Expect(first.Spec.NodeName).To(Equal(shutDownNode))

		By("stopping the node's agent; its Node goes NotReady once its Lease is late")
		stopAgent(shutDownNode)
		DeferCleanup(func() { removeOrphan(shutDownNode, first) })
		node := &corev1alpha1.Node{}
		Eventually(func(g Gomega) {
			g.Expect(k8s.Get(ctx, client.ObjectKey{Name: shutDownNode}, node)).To(Succeed())
			g.Expect(node.Status.Conditions).To(ContainElement(And(HaveField("Type", corev1.NodeReady), Not(HaveField("Status", corev1.ConditionTrue)))))
		}).WithTimeout(2 * time.Minute).Should(Succeed())
		Expect(current(pod)()).To(HaveField("UID", first.UID), "an unreachable node's pods wait for their toleration of 300 s")

		By("tainting the Node out-of-service: db-0 starts on e2e-a and finds the data written on the shut-down node")
		// Node lifecycle writes the taints too: the patch applies to the taints just read.
		Eventually(func() error {
			if err := k8s.Get(ctx, client.ObjectKey{Name: shutDownNode}, node); err != nil {
				return err
			}
			orig := node.DeepCopy()
			node.Spec.Taints = append(node.Spec.Taints, corev1.Taint{Key: "node.kubernetes.io/out-of-service", Value: "nodeshutdown", Effect: corev1.TaintEffectNoExecute})
			return k8s.Patch(ctx, node, client.MergeFromWithOptions(orig, client.MergeFromWithOptimisticLock{}))
		}).Should(Succeed())
		Eventually(func(g Gomega) {
			now, err := current(pod)()
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(now.UID).NotTo(Equal(first.UID))
			g.Expect(now.Spec.NodeName).To(Equal("e2e-a"))
		}).Should(Succeed())
		Eventually(logOf(pod, "db", 0)).Should(HaveSuffix(" stdout F on e2e-a, data written on " + shutDownNode + "\n"))
	})
})
