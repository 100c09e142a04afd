package serviceaccount_test

import (
	"os"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
)

var _ = Describe("Every namespace's service account and CA", func() {
	var ns string
	BeforeEach(func() {
		var err error
		ns, err = env.NewNamespace(ctx, "sa")
		Expect(err).NotTo(HaveOccurred())
	})

	account := func() error {
		return k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: corev1alpha1.DefaultServiceAccountName}, &corev1.ServiceAccount{})
	}
	rootCA := func() (map[string]string, error) {
		cm := &corev1.ConfigMap{}
		err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: corev1alpha1.RootCAConfigMapName}, cm)
		return cm.Data, err
	}

	It("gives a new namespace its default ServiceAccount, and gives it back when it is deleted", func() {
		Eventually(account).Should(Succeed())
		sa := &corev1.ServiceAccount{}
		Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: corev1alpha1.DefaultServiceAccountName}, sa)).To(Succeed())
		Expect(k8s.Delete(ctx, sa)).To(Succeed())
		Eventually(func(g Gomega) {
			again := &corev1.ServiceAccount{}
			g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(sa), again)).To(Succeed())
			g.Expect(again.UID).NotTo(Equal(sa.UID))
		}).Should(Succeed())
	})

	It("publishes the --root-ca-file as kube-root-ca.crt, and puts it back when it is changed", func() {
		ca, err := os.ReadFile(env.CA.CertFile)
		Expect(err).NotTo(HaveOccurred())
		want := map[string]string{corev1alpha1.RootCAConfigMapKey: string(ca)}
		Eventually(rootCA).Should(Equal(want))

		cm := &corev1.ConfigMap{}
		Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: corev1alpha1.RootCAConfigMapName}, cm)).To(Succeed())
		cm.Data = map[string]string{corev1alpha1.RootCAConfigMapKey: "tampered", "extra": "x"}
		Expect(k8s.Update(ctx, cm)).To(Succeed())
		Eventually(rootCA).Should(Equal(want))
	})
})
