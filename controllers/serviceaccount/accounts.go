package serviceaccount

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
	"github.com/kybern/kybern/controllers/internal/setup"
)

// +kubebuilder:rbac:groups="",resources=namespaces,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=serviceaccounts,verbs=get;list;watch;create

// Accounts creates a namespace's default ServiceAccount when it is missing, and again if
// it is deleted, until the namespace terminates.
type Accounts struct {
	Client client.Client
}

// SetupAccounts is the serviceaccount controller's setup.Func.
func SetupAccounts(_ context.Context, mgr ctrl.Manager, _ setup.Config) error {
	return ctrl.NewControllerManagedBy(mgr).
		For(&corev1.Namespace{}).
		Watches(&corev1.ServiceAccount{}, handler.EnqueueRequestsFromMapFunc(namespaceOf),
			builder.WithPredicates(named(corev1alpha1.DefaultServiceAccountName))).
		Named("serviceaccount").
		Complete(&Accounts{Client: mgr.GetClient()})
}

func (a *Accounts) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	if active, err := activeNamespace(ctx, a.Client, req.Name); !active || err != nil {
		return ctrl.Result{}, err
	}
	err := a.Client.Get(ctx, types.NamespacedName{Namespace: req.Name, Name: corev1alpha1.DefaultServiceAccountName}, &corev1.ServiceAccount{})
	if !apierrors.IsNotFound(err) {
		return ctrl.Result{}, err
	}
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: req.Name, Name: corev1alpha1.DefaultServiceAccountName}}
	return ctrl.Result{}, ignoreCreated(a.Client.Create(ctx, sa))
}

// activeNamespace reads whether namespace exists and is not terminating: only an active
// namespace takes new objects.
func activeNamespace(ctx context.Context, c client.Client, name string) (bool, error) {
	ns := &corev1.Namespace{}
	if err := c.Get(ctx, types.NamespacedName{Name: name}, ns); err != nil {
		return false, client.IgnoreNotFound(err)
	}
	return ns.DeletionTimestamp.IsZero() && ns.Status.Phase != corev1.NamespaceTerminating, nil
}

// ignoreCreated is err of a create, nil when another writer created the object first or
// the namespace began terminating since it was read (it takes no new objects), as
// upstream's controllers take both.
func ignoreCreated(err error) error {
	if apierrors.IsAlreadyExists(err) || apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause) {
		return nil
	}
	return err
}

// namespaceOf maps a namespaced object to its namespace's request.
func namespaceOf(_ context.Context, obj client.Object) []reconcile.Request {
	return []reconcile.Request{{NamespacedName: types.NamespacedName{Name: obj.GetNamespace()}}}
}

// named passes the events of objects called name.
func named(name string) predicate.Predicate {
	return predicate.NewPredicateFuncs(func(obj client.Object) bool { return obj.GetName() == name })
}
