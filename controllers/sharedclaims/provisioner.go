// Package sharedclaims binds the PersistentVolumeClaims of StorageClasses with provisioner
// kybern.io/shared-directory, whose data node agents keep under their --shared-claim-dir.
// Like upstream's volume binder for an Immediate class, it binds a claim when it is
// created, before any pod uses it; the agents then only use the claim, and so need no
// right to bind a claim no node has selected.
package sharedclaims

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/kybern/kybern/controllers/internal/setup"
	"github.com/kybern/kybern/internal/claims"
)

// +kubebuilder:rbac:groups="",resources=persistentvolumeclaims,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=persistentvolumeclaims/status,verbs=patch
// +kubebuilder:rbac:groups=storage.k8s.io,resources=storageclasses,verbs=get;list;watch

// Provisioner binds shared-directory claims.
type Provisioner struct {
	client.Client
}

// SetupWithManager runs the provisioner. A StorageClass created after its claims binds
// them too.
func SetupWithManager(_ context.Context, mgr ctrl.Manager, _ setup.Config) error {
	p := &Provisioner{Client: mgr.GetClient()}
	return ctrl.NewControllerManagedBy(mgr).
		For(&corev1.PersistentVolumeClaim{}).
		Watches(&storagev1.StorageClass{}, handler.EnqueueRequestsFromMapFunc(p.claimsOf)).
		Named("shared-directory-provisioner").
		Complete(p)
}

// Reconcile binds the claim when it is of a shared-directory class and not yet bound.
func (p *Provisioner) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	pvc := &corev1.PersistentVolumeClaim{}
	if err := p.Get(ctx, req.NamespacedName, pvc); err != nil {
		return reconcile.Result{}, client.IgnoreNotFound(err)
	}
	if pvc.DeletionTimestamp != nil || pvc.Status.Phase == corev1.ClaimBound {
		return reconcile.Result{}, nil
	}
	shared, err := claims.Shared(ctx, p, pvc)
	if err != nil || !shared {
		return reconcile.Result{}, err
	}
	return reconcile.Result{}, claims.Bind(ctx, p, pvc)
}

// claimsOf lists the claims of class.
func (p *Provisioner) claimsOf(ctx context.Context, class client.Object) []reconcile.Request {
	var claims corev1.PersistentVolumeClaimList
	if err := p.List(ctx, &claims); err != nil {
		return nil
	}
	var reqs []reconcile.Request
	for i := range claims.Items {
		if ptr.Deref(claims.Items[i].Spec.StorageClassName, "") == class.GetName() {
			reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&claims.Items[i])})
		}
	}
	return reqs
}
