package nodeauthorizer

import (
	"context"
	"errors"
	"fmt"

	rbacv1 "k8s.io/api/rbac/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"

	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
	"github.com/kybern/kybern/controllers/internal/setup"
)

// Indexes of the manager's cache this controller reads by.
const (
	podNodeIndex   = "nodeauthorizer.spec.nodeName"
	grantNodeIndex = "nodeauthorizer.node"
)

// Reconciler keeps each node's grants in step with the pods bound to it.
type Reconciler struct {
	client.Client
}

// SetupWithManager indexes pods by node and grants by the node they are for, and wakes
// a node's reconcile on any change to its pods or its grants.
func SetupWithManager(ctx context.Context, mgr ctrl.Manager, cfg setup.Config) error {
	indexer := mgr.GetFieldIndexer()
	if err := indexer.IndexField(ctx, &corev1alpha1.Pod{}, podNodeIndex, func(o client.Object) []string {
		return []string{o.(*corev1alpha1.Pod).Spec.NodeName}
	}); err != nil {
		return err
	}
	byNode := func(o client.Object) []string { return []string{o.GetAnnotations()[NodeAnnotation]} }
	for _, obj := range []client.Object{&rbacv1.Role{}, &rbacv1.RoleBinding{}} {
		if err := indexer.IndexField(ctx, obj, grantNodeIndex, byNode); err != nil {
			return err
		}
	}
	toNode := func(node string) []ctrl.Request {
		if node == "" {
			return nil
		}
		return []ctrl.Request{{NamespacedName: types.NamespacedName{Name: node}}}
	}
	podNode := handler.EnqueueRequestsFromMapFunc(func(_ context.Context, o client.Object) []ctrl.Request {
		return toNode(o.(*corev1alpha1.Pod).Spec.NodeName)
	})
	grantNode := handler.EnqueueRequestsFromMapFunc(func(_ context.Context, o client.Object) []ctrl.Request {
		return toNode(o.GetAnnotations()[NodeAnnotation])
	})
	return ctrl.NewControllerManagedBy(mgr).
		Named("nodeauthorizer").
		Watches(&corev1alpha1.Pod{}, podNode).
		Watches(&rbacv1.Role{}, grantNode).
		Watches(&rbacv1.RoleBinding{}, grantNode).
		WithOptions(controller.Options{MaxConcurrentReconciles: cfg.Concurrency}).
		Complete(&Reconciler{Client: mgr.GetClient()})
}

// The manager holds what it grants, as RBAC lets no one grant more than it has.
// +kubebuilder:rbac:groups=rbac.authorization.k8s.io,resources=roles;rolebindings,verbs=get;list;watch;create;update;delete
// +kubebuilder:rbac:groups="",resources=secrets;configmaps,verbs=get
// +kubebuilder:rbac:groups="",resources=persistentvolumeclaims,verbs=get;patch
// +kubebuilder:rbac:groups="",resources=persistentvolumeclaims/status,verbs=patch
// +kubebuilder:rbac:groups="",resources=serviceaccounts/token,verbs=create
// +kubebuilder:rbac:groups=core.kybern.io,resources=pods,verbs=get;list;watch

// Reconcile gives node a Role and RoleBinding in every namespace where pods bound to it
// use Secrets, ConfigMaps or claims, naming exactly those, and removes the rest.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	node := req.Name
	var pods corev1alpha1.PodList
	if err := r.List(ctx, &pods, client.MatchingFields{podNodeIndex: node}); err != nil {
		return ctrl.Result{}, err
	}
	bound := make([]*corev1alpha1.Pod, len(pods.Items))
	for i := range pods.Items {
		bound[i] = &pods.Items[i]
	}
	// The Roles node should have, by namespace; a namespace whose pods use nothing has none.
	want := map[string]*rbacv1.Role{}
	for ns, g := range grants(bound) {
		if role := role(node, ns, g); len(role.Rules) > 0 {
			want[ns] = role
		}
	}
	var roles rbacv1.RoleList
	if err := r.List(ctx, &roles, client.MatchingFields{grantNodeIndex: node}); err != nil {
		return ctrl.Result{}, err
	}
	var bindings rbacv1.RoleBindingList
	if err := r.List(ctx, &bindings, client.MatchingFields{grantNodeIndex: node}); err != nil {
		return ctrl.Result{}, err
	}
	haveRoles := map[string]*rbacv1.Role{}
	for i := range roles.Items {
		haveRoles[roles.Items[i].Namespace] = &roles.Items[i]
	}
	haveBindings := map[string]*rbacv1.RoleBinding{}
	for i := range bindings.Items {
		haveBindings[bindings.Items[i].Namespace] = &bindings.Items[i]
	}

	var errs []error
	for ns, role := range want {
		errs = append(errs, r.ensureRole(ctx, role, haveRoles[ns]), r.ensureBinding(ctx, binding(node, ns), haveBindings[ns]))
	}
	for ns, b := range haveBindings {
		if want[ns] == nil {
			errs = append(errs, r.remove(ctx, b))
		}
	}
	for ns, role := range haveRoles {
		if want[ns] == nil {
			errs = append(errs, r.remove(ctx, role))
		}
	}
	return ctrl.Result{}, errors.Join(errs...)
}

// ensureRole makes have (nil when missing) into want.
func (r *Reconciler) ensureRole(ctx context.Context, want, have *rbacv1.Role) error {
	if have == nil {
		log.FromContext(ctx).V(1).Info("Granting", "namespace", want.Namespace, "rules", want.Rules)
		return ignoreExists(r.Create(ctx, want))
	}
	if apiequality.Semantic.DeepEqual(want.Rules, have.Rules) {
		return nil
	}
	updated := have.DeepCopy()
	updated.Rules = want.Rules
	log.FromContext(ctx).V(1).Info("Changing grant", "namespace", want.Namespace, "rules", want.Rules)
	return ignoreConflict(r.Update(ctx, updated))
}

// ensureBinding makes have (nil when missing) into want; a binding to another role is
// replaced, as a RoleBinding's roleRef cannot change.
func (r *Reconciler) ensureBinding(ctx context.Context, want, have *rbacv1.RoleBinding) error {
	switch {
	case have == nil:
		return ignoreExists(r.Create(ctx, want))
	case have.RoleRef != want.RoleRef:
		return r.remove(ctx, have)
	case !apiequality.Semantic.DeepEqual(have.Subjects, want.Subjects):
		updated := have.DeepCopy()
		updated.Subjects = want.Subjects
		return ignoreConflict(r.Update(ctx, updated))
	}
	return nil
}

func (r *Reconciler) remove(ctx context.Context, obj client.Object) error {
	log.FromContext(ctx).V(1).Info("Revoking", "namespace", obj.GetNamespace(), "kind", fmt.Sprintf("%T", obj))
	return client.IgnoreNotFound(r.Delete(ctx, obj, client.Preconditions{UID: ptr.To(obj.GetUID())}))
}

// ignoreExists drops the error of a create the cache did not show yet: its watch event
// brings the next reconcile.
func ignoreExists(err error) error {
	if apierrors.IsAlreadyExists(err) {
		return nil
	}
	return err
}

// ignoreConflict drops the error of an update of an object that changed since the cache
// showed it: the newer version's watch event brings the next reconcile.
func ignoreConflict(err error) error {
	if apierrors.IsConflict(err) {
		return nil
	}
	return err
}
