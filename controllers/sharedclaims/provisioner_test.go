package sharedclaims_test

import (
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

func newClaim(ns, name, class string) *corev1.PersistentVolumeClaim {
	return &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: corev1.PersistentVolumeClaimSpec{StorageClassName: ptr.To(class), AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteMany},
			Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("2Gi")}}}}
}

func newClass(name, provisioner string) *storagev1.StorageClass {
	class := &storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: name}, Provisioner: provisioner}
	Expect(k8s.Create(ctx, class)).To(Succeed())
	DeferCleanup(func() { Expect(k8s.Delete(ctx, class)).To(Succeed()) })
	return class
}

func phase(pvc *corev1.PersistentVolumeClaim) func() (corev1.PersistentVolumeClaimPhase, error) {
	return func() (corev1.PersistentVolumeClaimPhase, error) {
		got := &corev1.PersistentVolumeClaim{}
		err := k8s.Get(ctx, client.ObjectKeyFromObject(pvc), got)
		return got.Status.Phase, err
	}
}

var _ = Describe("The shared-directory provisioner", func() {
	var ns string
	BeforeEach(func() {
		var err error
		ns, err = env.NewNamespace(ctx, "shared")
		Expect(err).NotTo(HaveOccurred())
	})

	It("binds a claim of a shared-directory class at once, with its access modes and requested storage", func() {
		newClass("shared-a", corev1alpha1.SharedDirectoryProvisioner)
		pvc := newClaim(ns, "data", "shared-a")
		Expect(k8s.Create(ctx, pvc)).To(Succeed())
		Eventually(phase(pvc)).Should(Equal(corev1.ClaimBound))
		Expect(k8s.Get(ctx, client.ObjectKeyFromObject(pvc), pvc)).To(Succeed())
		Expect(pvc.Status.AccessModes).To(Equal([]corev1.PersistentVolumeAccessMode{corev1.ReadWriteMany}))
		Expect(pvc.Status.Capacity.Storage().String()).To(Equal("2Gi"))
	})

	It("binds the claims of a shared-directory class created after them, and no claim of another class", func() {
		other := newClass("other", "example.com/nfs")
		local := newClaim(ns, "local", other.Name)
		late := newClaim(ns, "late", "shared-late")
		Expect(k8s.Create(ctx, local)).To(Succeed())
		Expect(k8s.Create(ctx, late)).To(Succeed())
		newClass("shared-late", corev1alpha1.SharedDirectoryProvisioner)
		Eventually(phase(late)).Should(Equal(corev1.ClaimBound))
		// The local claim's creation was handled before the late claim's class appeared.
		Expect(phase(local)()).To(Equal(corev1.ClaimPending))
	})
})
