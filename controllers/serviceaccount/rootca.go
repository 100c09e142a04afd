package serviceaccount

import (
	"context"
	"errors"
	"fmt"
	"os"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	certutil "k8s.io/client-go/util/cert"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"

	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
	"github.com/kybern/kybern/controllers/internal/setup"
)

// +kubebuilder:rbac:groups="",resources=configmaps,verbs=get;list;watch;create;update

// Publisher keeps the ConfigMap kube-root-ca.crt in every active namespace with CA as ca.crt, putting
// back what another writer changed.
type Publisher struct {
	Client client.Client
	CA     string
}

// SetupPublisher is the root-ca-cert-publisher controller's setup.Func; it needs
// --root-ca-file.
func SetupPublisher(_ context.Context, mgr ctrl.Manager, cfg setup.Config) error {
	if cfg.RootCAFile == "" {
		return errors.New("--root-ca-file is unset: give it the PEM CA bundle pods verify the apiserver with, or leave root-ca-cert-publisher out of --controllers")
	}
	ca, err := os.ReadFile(cfg.RootCAFile)
	if err != nil {
		return fmt.Errorf("--root-ca-file: %w", err)
	}
	if _, err := certutil.ParseCertsPEM(ca); err != nil {
		return fmt.Errorf("--root-ca-file=%s: %w", cfg.RootCAFile, err)
	}
	return ctrl.NewControllerManagedBy(mgr).
		For(&corev1.Namespace{}).
		Watches(&corev1.ConfigMap{}, handler.EnqueueRequestsFromMapFunc(namespaceOf),
			builder.WithPredicates(named(corev1alpha1.RootCAConfigMapName))).
		Named("root-ca-cert-publisher").
		Complete(&Publisher{Client: mgr.GetClient(), CA: string(ca)})
}

func (p *Publisher) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	if active, err := activeNamespace(ctx, p.Client, req.Name); !active || err != nil {
		return ctrl.Result{}, err
	}
	cm := &corev1.ConfigMap{}
	err := p.Client.Get(ctx, types.NamespacedName{Namespace: req.Name, Name: corev1alpha1.RootCAConfigMapName}, cm)
	switch {
	case apierrors.IsNotFound(err):
		cm = &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: req.Name, Name: corev1alpha1.RootCAConfigMapName,
			Annotations: map[string]string{"kubernetes.io/description": "The CA bundle that verifies the apiserver at the kubernetes Service (kubernetes.default.svc); published by kybern's root-ca-cert-publisher."}},
			Data: map[string]string{corev1alpha1.RootCAConfigMapKey: p.CA}}
		return ctrl.Result{}, ignoreCreated(p.Client.Create(ctx, cm))
	case err != nil:
		return ctrl.Result{}, err
	}
	if cm.Data[corev1alpha1.RootCAConfigMapKey] == p.CA && len(cm.Data) == 1 && len(cm.BinaryData) == 0 {
		return ctrl.Result{}, nil
	}
	cm.Data, cm.BinaryData = map[string]string{corev1alpha1.RootCAConfigMapKey: p.CA}, nil
	return ctrl.Result{}, p.Client.Update(ctx, cm)
}
