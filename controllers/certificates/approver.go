package certificates

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"strings"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
	"github.com/kybern/kybern/controllers/internal/setup"
)

// Approver approves and denies node client certificate requests (see decide).
type Approver struct {
	client.Client
	Recorder record.EventRecorder
	Clock    clock.PassiveClock
	// GracePeriod is how recently a node's Lease must have been renewed for its node to
	// count as live: node lifecycle's grace period.
	GracePeriod time.Duration
}

// SetupApprover registers the csrapproving controller.
func SetupApprover(_ context.Context, mgr ctrl.Manager, cfg setup.Config) error {
	return ctrl.NewControllerManagedBy(mgr).
		For(&certificatesv1.CertificateSigningRequest{}).
		Named("csrapproving").
		Complete(&Approver{Client: mgr.GetClient(), Recorder: cfg.Recorder, Clock: cfg.Clock, GracePeriod: cfg.NodeMonitorGracePeriod})
}

// +kubebuilder:rbac:groups=certificates.k8s.io,resources=certificatesigningrequests,verbs=get;list;watch
// +kubebuilder:rbac:groups=certificates.k8s.io,resources=certificatesigningrequests/approval,verbs=update
// +kubebuilder:rbac:groups=certificates.k8s.io,resources=signers,verbs=approve,resourceNames=kubernetes.io/kube-apiserver-client;kubernetes.io/kubelet-serving
// +kubebuilder:rbac:groups=core.kybern.io,resources=nodes,verbs=get;list;watch

// Reconcile approves or denies one pending request, once.
func (a *Approver) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	csr := &certificatesv1.CertificateSigningRequest{}
	if err := a.Get(ctx, req.NamespacedName, csr); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if decided(csr) {
		return ctrl.Result{}, nil
	}
	parsed, err := parseRequest(csr)
	if err != nil {
		// Not a request anyone can sign; the signer fails it.
		return ctrl.Result{}, nil
	}
	v, reason, kind, err := a.judge(ctx, csr, parsed)
	if err != nil {
		return ctrl.Result{}, err
	}
	cond := certificatesv1.CertificateSigningRequestCondition{Status: corev1.ConditionTrue, LastUpdateTime: metav1.NewTime(a.Clock.Now())}
	switch v {
	case leave:
		if csr.Spec.SignerName == certificatesv1.KubeletServingSignerName && strings.HasPrefix(csr.Spec.Username, corev1alpha1.NodeUserPrefix) {
			// A node's serving request before its Node exists: judged once it does.
			return ctrl.Result{RequeueAfter: servingRecheck}, nil
		}
		return ctrl.Result{}, nil
	case approve:
		cond.Type, cond.Reason, cond.Message = certificatesv1.CertificateApproved, "AutoApproved", "kybern's csrapproving controller approved the node "+kind+" certificate of "+parsed.Subject.CommonName
	case deny:
		cond.Type, cond.Reason, cond.Message = certificatesv1.CertificateDenied, refusedReason[kind], reason
		a.Recorder.Event(csr, corev1.EventTypeWarning, refusedReason[kind], reason)
	}
	log.FromContext(ctx).Info("Deciding node certificate", "kind", kind, "commonName", parsed.Subject.CommonName, "requester", csr.Spec.Username, "decision", cond.Type)
	csr.Status.Conditions = append(csr.Status.Conditions, cond)
	err = a.SubResource("approval").Update(ctx, csr)
	if apierrors.IsConflict(err) {
		// A newer version is on its way; its event brings the next reconcile.
		return ctrl.Result{}, nil
	}
	return ctrl.Result{}, err
}

// servingRecheck is how soon a serving request whose Node does not exist yet is judged again.
const servingRecheck = 10 * time.Second

// refusedReason is a denial's reason, by the kind of certificate asked for.
var refusedReason = map[string]string{"client": "NodeClientRefused", "serving": "NodeServingRefused"}

// judge applies the rules of the kind of certificate csr asks for: "client" or "serving".
func (a *Approver) judge(ctx context.Context, csr *certificatesv1.CertificateSigningRequest, parsed *x509.CertificateRequest) (verdict, string, string, error) {
	var lookupErr error
	if csr.Spec.SignerName == certificatesv1.KubeletServingSignerName {
		v, reason := decideServing(csr, parsed, func(name string) ([]corev1.NodeAddress, bool) {
			node := &corev1alpha1.Node{}
			err := a.Get(ctx, client.ObjectKey{Name: name}, node)
			if !apierrors.IsNotFound(err) {
				lookupErr = err
			}
			return node.Status.Addresses, err == nil
		})
		return v, reason, "serving", lookupErr
	}
	v, reason := decide(csr, parsed, func(node string) bool {
		live, err := a.live(ctx, node)
		lookupErr = err
		return live
	})
	return v, reason, "client", lookupErr
}

// live tells whether node's agent renewed its Lease within the grace period.
func (a *Approver) live(ctx context.Context, node string) (bool, error) {
	lease := &coordinationv1.Lease{}
	err := a.Get(ctx, client.ObjectKey{Namespace: corev1alpha1.NodeLeaseNamespace, Name: node}, lease)
	if apierrors.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if lease.Spec.RenewTime == nil {
		return false, nil
	}
	return a.Clock.Since(lease.Spec.RenewTime.Time) < a.GracePeriod, nil
}

// decided tells whether csr was approved, denied or failed already.
func decided(csr *certificatesv1.CertificateSigningRequest) bool {
	for _, c := range csr.Status.Conditions {
		switch c.Type {
		case certificatesv1.CertificateApproved, certificatesv1.CertificateDenied, certificatesv1.CertificateFailed:
			return true
		}
	}
	return false
}

// parseRequest is csr's PKCS#10 request, its signature checked.
func parseRequest(csr *certificatesv1.CertificateSigningRequest) (*x509.CertificateRequest, error) {
	block, _ := pem.Decode(csr.Spec.Request)
	if block == nil || block.Type != "CERTIFICATE REQUEST" {
		return nil, errors.New("spec.request holds no PEM CERTIFICATE REQUEST")
	}
	req, err := x509.ParseCertificateRequest(block.Bytes)
	if err != nil {
		return nil, err
	}
	return req, req.CheckSignature()
}
