package e2e

import (
	"context"
	"strings"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"

	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
)

// approveAdminServingRequests approves, until ctx ends, the serving certificate requests
// that agents running on the admin's kubeconfig make (kybern's csrapproving controller
// approves only a node identity's own), as an operator does with kubectl certificate
// approve: their certificates live 20 s here, so each renewal is approved too.
func approveAdminServingRequests(ctx context.Context, admin kubernetes.Interface) {
	wait.UntilWithContext(ctx, func(ctx context.Context) {
		w, err := admin.CertificatesV1().CertificateSigningRequests().Watch(ctx, metav1.ListOptions{})
		if err != nil {
			return
		}
		defer w.Stop()
		for ev := range w.ResultChan() {
			csr, ok := ev.Object.(*certificatesv1.CertificateSigningRequest)
			if !ok || ev.Type != watch.Added || csr.Spec.SignerName != certificatesv1.KubeletServingSignerName ||
				strings.HasPrefix(csr.Spec.Username, corev1alpha1.NodeUserPrefix) || len(csr.Status.Conditions) > 0 {
				continue
			}
			csr.Status.Conditions = append(csr.Status.Conditions, certificatesv1.CertificateSigningRequestCondition{
				Type: certificatesv1.CertificateApproved, Status: corev1.ConditionTrue, Reason: "E2EApproved",
				Message: "approved by the e2e suite for an agent on the admin kubeconfig"})
			_, _ = admin.CertificatesV1().CertificateSigningRequests().UpdateApproval(ctx, csr.Name, csr, metav1.UpdateOptions{})
		}
	}, time.Second)
}
