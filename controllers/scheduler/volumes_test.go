package scheduler_test

import (
	"fmt"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
)

func withClaim(p *corev1alpha1.Pod, claim string) *corev1alpha1.Pod {
	p.Spec.Volumes = []corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{
		PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: claim}}}}
	return p
}

func newClaim(ns, name string) *corev1.PersistentVolumeClaim {
	return &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: corev1.PersistentVolumeClaimSpec{AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}}}}
}

var _ = Describe("The scheduler with persistent volume claims", Ordered, func() {
	var ns string
	BeforeEach(func() {
		var err error
		ns, err = env.NewNamespace(ctx, "sched-pvc")
		Expect(err).NotTo(HaveOccurred())
	})

	It("selects a node for a claim with its first pod, and places the claim's later pods there", func() {
		for _, n := range []string{"vol-a", "vol-b", "vol-c"} {
			newNode(n, "4", nil)
		}
		Expect(k8s.Create(ctx, newClaim(ns, "data"))).To(Succeed())
		first := withClaim(newPod(ns, "first", "100m"), "data")
		Expect(k8s.Create(ctx, first)).To(Succeed())
		Eventually(nodeOf(first)).ShouldNot(BeEmpty())
		node := nodeOf(first)()
		pvc := &corev1.PersistentVolumeClaim{}
		Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "data"}, pvc)).To(Succeed())
		Expect(pvc.Annotations).To(HaveKeyWithValue("volume.kubernetes.io/selected-node", node))

		// Spreading alone would put these on the two other nodes.
		for i := range 4 {
			p := withClaim(newPod(ns, fmt.Sprintf("later-%d", i), "100m"), "data")
			Expect(k8s.Create(ctx, p)).To(Succeed())
			Eventually(nodeOf(p)).Should(Equal(node))
		}
	})

	It("ties the pods of a shared-directory claim to no node", func() {
		for _, n := range []string{"vol-shared-a", "vol-shared-b"} {
			newNode(n, "4", nil)
		}
		class := &storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: "sched-shared"}, Provisioner: corev1alpha1.SharedDirectoryProvisioner}
		Expect(k8s.Create(ctx, class)).To(Succeed())
		DeferCleanup(func() { Expect(k8s.Delete(ctx, class)).To(Succeed()) })
		claim := newClaim(ns, "shared")
		claim.Spec.StorageClassName = ptr.To(class.Name)
		Expect(k8s.Create(ctx, claim)).To(Succeed())
		nodes := map[string]bool{}
		for i := range 4 {
			p := withClaim(newPod(ns, fmt.Sprintf("shared-%d", i), "100m"), "shared")
			p.Spec.NodeSelector = map[string]string{corev1.LabelHostname: []string{"vol-shared-a", "vol-shared-b"}[i%2]}
			Expect(k8s.Create(ctx, p)).To(Succeed())
			Eventually(nodeOf(p)).ShouldNot(BeEmpty())
			nodes[nodeOf(p)()] = true
		}
		Expect(nodes).To(HaveLen(2), "a node-local claim would keep the second node's pods Pending")
		Expect(k8s.Get(ctx, client.ObjectKeyFromObject(claim), claim)).To(Succeed())
		Expect(claim.Annotations).NotTo(HaveKey("volume.kubernetes.io/selected-node"))
	})

	It("says a claim is missing, then places the pod once the claim exists", func() {
		newNode("vol-d", "4", nil)
		p := withClaim(newPod(ns, "waits", "100m"), "later")
		Expect(k8s.Create(ctx, p)).To(Succeed())
		Eventually(func(g Gomega) {
			got := &corev1alpha1.Pod{}
			g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(p), got)).To(Succeed())
			g.Expect(got.Status.Conditions).To(ContainElement(And(HaveField("Type", corev1.PodScheduled),
				HaveField("Reason", corev1.PodReasonUnschedulable), HaveField("Message", `persistentvolumeclaim "later" not found`))))
		}).Should(Succeed())
		Expect(k8s.Create(ctx, newClaim(ns, "later"))).To(Succeed())
		Eventually(nodeOf(p)).Should(Equal("vol-d"))
	})
})
