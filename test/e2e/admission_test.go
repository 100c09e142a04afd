package e2e

import (
	. "github.com/onsi/gomega"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
	"github.com/kybern/kybern/controllers/admission"
)

// withoutAdmission runs create while the apiserver sends nothing to the manager's webhook,
// as on a cluster whose objects were stored before it, so that a spec can show what the
// node agent does with input admission would refuse. Specs run one at a time, so nothing
// else is created meanwhile.
func withoutAdmission(create func()) {
	cfg := &admissionregistrationv1.ValidatingWebhookConfiguration{}
	Expect(k8s.Get(ctx, client.ObjectKey{Name: admission.ConfigurationName}, cfg)).To(Succeed())
	Expect(k8s.Delete(ctx, cfg)).To(Succeed())
	Eventually(admissionProbe).Should(Succeed())
	defer func() {
		restored := &admissionregistrationv1.ValidatingWebhookConfiguration{ObjectMeta: metav1.ObjectMeta{Name: cfg.Name, Labels: cfg.Labels}, Webhooks: cfg.Webhooks}
		Expect(k8s.Create(ctx, restored)).To(Succeed())
		Eventually(admissionProbe).Should(Satisfy(apierrors.IsForbidden))
	}()
	create()
}

// admissionProbe asks, without storing anything, for a privileged pod in the baseline
// default namespace: the webhook refuses it, the apiserver alone does not.
func admissionProbe() error {
	p := &corev1alpha1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "default", GenerateName: "admission-probe-"},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "probe", Image: "busybox",
			SecurityContext: &corev1.SecurityContext{Privileged: ptr.To(true)}}}}}
	return k8s.Create(ctx, p, client.DryRunAll)
}
