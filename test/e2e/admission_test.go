package e2e

import (
	. "github.com/onsi/gomega"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

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
	Eventually(func() error { return env.AdmissionProbe(ctx) }).Should(Succeed())
	defer func() {
		restored := &admissionregistrationv1.ValidatingWebhookConfiguration{ObjectMeta: metav1.ObjectMeta{Name: cfg.Name, Labels: cfg.Labels}, Webhooks: cfg.Webhooks}
		Expect(k8s.Create(ctx, restored)).To(Succeed())
		Eventually(func() error { return env.AdmissionProbe(ctx) }).Should(Satisfy(apierrors.IsForbidden))
	}()
	create()
}
