package garbagecollector

import (
	"context"
	"slices"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/source"

	appsv1alpha1 "github.com/kybern/kybern/api/apps/v1alpha1"
	autoscalingv1alpha1 "github.com/kybern/kybern/api/autoscaling/v1alpha1"
	batchv1alpha1 "github.com/kybern/kybern/api/batch/v1alpha1"
	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
	"github.com/kybern/kybern/controllers/internal/setup"
)

// ownerUIDIndex indexes objects by the UIDs of their owners.
const ownerUIDIndex = "metadata.ownerReferences.uid"

// Kinds are the kinds whose objects the collector watches, as dependents and as owners.
var Kinds = []schema.GroupVersionKind{
	corev1alpha1.GroupVersion.WithKind("Pod"),
	corev1alpha1.GroupVersion.WithKind("Node"),
	corev1alpha1.GroupVersion.WithKind("Service"),
	corev1alpha1.GroupVersion.WithKind("EndpointSlice"),
	appsv1alpha1.GroupVersion.WithKind("ReplicaSet"),
	appsv1alpha1.GroupVersion.WithKind("Deployment"),
	appsv1alpha1.GroupVersion.WithKind("DaemonSet"),
	appsv1alpha1.GroupVersion.WithKind("StatefulSet"),
	batchv1alpha1.GroupVersion.WithKind("Job"),
	batchv1alpha1.GroupVersion.WithKind("CronJob"),
	autoscalingv1alpha1.GroupVersion.WithKind("HorizontalPodAutoscaler"),
	{Version: "v1", Kind: "PersistentVolumeClaim"},
	{Version: "v1", Kind: "ConfigMap"},
	{Version: "v1", Kind: "Secret"},
	{Group: "apps", Version: "v1", Kind: "ControllerRevision"},
}

// item names one object of a watched kind.
type item struct {
	GVK schema.GroupVersionKind
	types.NamespacedName
}

// Collector is the garbage collector's reconciler.
type Collector struct {
	// Client reads from the cache and writes to the apiserver.
	Client client.Client
	// APIReader reads around the cache, to confirm that an owner is gone.
	APIReader client.Reader
	Mapper    meta.RESTMapper
}

// +kubebuilder:rbac:groups=core.kybern.io,resources=pods;nodes;services;endpointslices,verbs=get;list;watch;update;patch;delete
// +kubebuilder:rbac:groups=apps.kybern.io,resources=replicasets;deployments;daemonsets;statefulsets,verbs=get;list;watch;update;patch;delete
// +kubebuilder:rbac:groups=batch.kybern.io,resources=jobs;cronjobs,verbs=get;list;watch;update;patch;delete
// +kubebuilder:rbac:groups=autoscaling.kybern.io,resources=horizontalpodautoscalers,verbs=get;list;watch;update;patch;delete
// +kubebuilder:rbac:groups="",resources=persistentvolumeclaims;configmaps;secrets,verbs=get;list;watch;update;patch;delete
// +kubebuilder:rbac:groups=apps,resources=controllerrevisions,verbs=get;list;watch;update;patch;delete

// SetupWithManager indexes every watched kind by owner UID and starts watching their
// metadata; cfg.Concurrency is how many objects it processes at once.
func SetupWithManager(ctx context.Context, mgr ctrl.Manager, cfg setup.Config) error {
	c := &Collector{Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), Mapper: mgr.GetRESTMapper()}
	b := builder.TypedControllerManagedBy[item](mgr).
		Named("garbagecollector").
		WithOptions(controller.TypedOptions[item]{MaxConcurrentReconciles: cfg.Concurrency})
	for _, gvk := range Kinds {
		if err := mgr.GetFieldIndexer().IndexField(ctx, metadataOf(gvk), ownerUIDIndex, ownerUIDs); err != nil {
			return err
		}
		b = b.WatchesRawSource(source.TypedKind(mgr.GetCache(), metadataOf(gvk), &eventHandler{c: c, gvk: gvk}))
	}
	return b.Complete(c)
}

// Reconcile processes one object: an owner being deleted with the orphan or
// foregroundDeletion finalizer, or a dependent whose owners may be gone.
func (c *Collector) Reconcile(ctx context.Context, it item) (ctrl.Result, error) {
	obj := metadataOf(it.GVK)
	if err := c.Client.Get(ctx, it.NamespacedName, obj); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if obj.DeletionTimestamp != nil {
		switch {
		case slices.Contains(obj.Finalizers, metav1.FinalizerOrphanDependents):
			return ctrl.Result{}, c.orphanDependents(ctx, obj)
		case slices.Contains(obj.Finalizers, metav1.FinalizerDeleteDependents):
			return ctrl.Result{}, c.deleteDependentsFirst(ctx, obj)
		}
		return ctrl.Result{}, nil
	}
	return ctrl.Result{}, c.collectIfOwnerless(ctx, obj)
}

func metadataOf(gvk schema.GroupVersionKind) *metav1.PartialObjectMetadata {
	obj := &metav1.PartialObjectMetadata{}
	obj.SetGroupVersionKind(gvk)
	return obj
}

func ownerUIDs(obj client.Object) []string {
	var uids []string
	for _, ref := range obj.GetOwnerReferences() {
		uids = append(uids, string(ref.UID))
	}
	return uids
}

func watched(gvk schema.GroupVersionKind) bool { return slices.Contains(Kinds, gvk) }
