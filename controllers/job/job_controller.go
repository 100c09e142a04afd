package job

import (
	"context"
	"fmt"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/log"

	batchv1alpha1 "github.com/kybern/kybern/api/batch/v1alpha1"
	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
	"github.com/kybern/kybern/controllers/internal/claim"
	"github.com/kybern/kybern/controllers/internal/expectations"
	"github.com/kybern/kybern/controllers/internal/placement"
	"github.com/kybern/kybern/controllers/internal/podevents"
	"github.com/kybern/kybern/controllers/internal/setup"
	"github.com/kybern/kybern/controllers/internal/specvalidation"
)

// Upstream's per-reconcile caps: pods created or deleted, and finished pods moved into
// status.uncountedTerminatedPods, so that a large Job neither starves the others nor
// grows its status beyond what an update carries.
const (
	maxPodChangesPerSync = 500
	maxUncountedPods     = 500
)

// The labels upstream's apiserver put on a Job's pods before the batch.kubernetes.io/
// ones, which it still sets and selectors in the wild still use.
const (
	legacyControllerUIDLabel = "controller-uid"
	legacyJobNameLabel       = "job-name"
)

// Reconciler reconciles Jobs.
type Reconciler struct {
	client.Client
	// APIReader reads around the cache, to confirm a Job before adopting pods for it.
	APIReader client.Reader
	Recorder  record.EventRecorder
	Clock     clock.PassiveClock
	// Placer, when set, picks each new pod's node so that the pod is created bound.
	Placer placement.Placer

	expectations *expectations.Expectations
	finalizers   *finalizerExpectations
	backoff      *backoffStore
}

// NewReconciler returns a Reconciler with fresh expectations and backoff records.
func NewReconciler(c client.Client, apiReader client.Reader, recorder record.EventRecorder, clk clock.PassiveClock) *Reconciler {
	return &Reconciler{Client: c, APIReader: apiReader, Recorder: recorder, Clock: clk,
		expectations: expectations.New(clk, expectations.DefaultTTL),
		finalizers:   newFinalizerExpectations(), backoff: newBackoffStore()}
}

// SetupWithManager registers the controller; cfg.Concurrency is how many Jobs it
// reconciles at once, and its pods are created bound through cfg.Placement.
func SetupWithManager(_ context.Context, mgr ctrl.Manager, cfg setup.Config) error {
	r := NewReconciler(mgr.GetClient(), mgr.GetAPIReader(), cfg.Recorder, cfg.Clock)
	r.Placer = cfg.Placement
	return ctrl.NewControllerManagedBy(mgr).
		For(&batchv1alpha1.Job{}).
		Watches(&corev1alpha1.Pod{}, &podevents.Handler{Owner: batchv1alpha1.GroupVersion.WithKind("Job"),
			Expectations: r.expectations, Changed: r.trackingFinalizerChanged}).
		WithOptions(controller.Options{MaxConcurrentReconciles: cfg.Concurrency}).
		Named("job").
		Complete(r)
}

// +kubebuilder:rbac:groups=batch.kybern.io,resources=jobs,verbs=get;list;watch;update;patch;delete
// +kubebuilder:rbac:groups=batch.kybern.io,resources=jobs/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=batch.kybern.io,resources=jobs/finalizers,verbs=update
// +kubebuilder:rbac:groups=core.kybern.io,resources=pods,verbs=get;list;watch;create;update;patch;delete

// Reconcile runs one Job: it counts the pods that finished, decides whether the Job is
// done, creates or deletes pods to match parallelism, and writes the status.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	key := req.String()
	job := &batchv1alpha1.Job{}
	if err := r.Get(ctx, req.NamespacedName, job); err != nil {
		if !apierrors.IsNotFound(err) {
			return ctrl.Result{}, err
		}
		r.expectations.Forget(key)
		r.finalizers.forget(key)
		r.backoff.forget(key)
		pods, err := r.namespacePods(ctx, req.Namespace)
		if err != nil {
			return ctrl.Result{}, err
		}
		return ctrl.Result{}, r.releaseAll(ctx, pods, req.Name, "")
	}
	if finished(job) {
		r.backoff.forget(key)
		pods, err := r.namespacePods(ctx, job.Namespace)
		if err != nil {
			return ctrl.Result{}, err
		}
		if err := r.releaseAll(ctx, pods, job.Name, ""); err != nil {
			return ctrl.Result{}, err
		}
		return r.expireFinished(ctx, job)
	}
	if refused, err := specvalidation.Guard(ctx, r.Client, r.Recorder, job, r.Clock.Now()); refused || err != nil {
		return ctrl.Result{}, err
	}
	if job.Spec.Selector == nil {
		return ctrl.Result{}, r.generateSelector(ctx, job)
	}
	selector, err := metav1.LabelSelectorAsSelector(job.Spec.Selector)
	if err != nil {
		// The CRD refuses such a selector; only the user can fix one that slipped past.
		r.Recorder.Eventf(job, corev1.EventTypeWarning, "InvalidSelector", "Invalid spec.selector: %v", err)
		return ctrl.Result{}, nil
	}
	satisfied := r.expectations.Satisfied(key)
	// The finalizer removals still unseen, taken before the pods are read: one observed
	// after this point was done by the time the pods are read, so a pod is either in this
	// set or read without its finalizer. Taken after, a removal observed in between would
	// leave a stale pod, finalizer and all, looking uncounted: counted twice.
	removing := r.finalizers.pending(key)

	candidates, err := r.namespacePods(ctx, job.Namespace)
	if err != nil {
		return ctrl.Result{}, err
	}
	if err := r.releaseAll(ctx, candidates, job.Name, job.UID); err != nil {
		return ctrl.Result{}, err
	}
	pods, err := claim.Claim(ctx, claim.Owner{
		Object: job, GVK: batchv1alpha1.GroupVersion.WithKind("Job"), Selector: selector,
		Writer: r.Client, Fresh: r.APIReader,
	}, candidates)
	if err != nil {
		return ctrl.Result{}, err
	}
	if err := r.trackAdopted(ctx, job, pods); err != nil {
		return ctrl.Result{}, err
	}
	return r.sync(ctx, job.DeepCopy(), pods, removing, satisfied)
}

// generateSelector gives a Job without a selector the one upstream's apiserver generates:
// its pods are those labelled with the Job's UID. The template gets the labels in the
// same update, as the selector must match them.
func (r *Reconciler) generateSelector(ctx context.Context, job *batchv1alpha1.Job) error {
	if job.Spec.ManualSelector != nil && *job.Spec.ManualSelector {
		r.Recorder.Event(job, corev1.EventTypeWarning, "InvalidSelector", "spec.selector is required when spec.manualSelector is true: set a selector matching spec.template.metadata.labels, or drop manualSelector")
		return nil
	}
	uid := string(job.UID)
	labels := map[string]string{batchv1.ControllerUidLabel: uid, batchv1.JobNameLabel: job.Name,
		legacyControllerUIDLabel: uid, legacyJobNameLabel: job.Name}
	if job.Spec.Template.Labels == nil {
		job.Spec.Template.Labels = map[string]string{}
	}
	for k, v := range labels {
		job.Spec.Template.Labels[k] = v
	}
	job.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{batchv1.ControllerUidLabel: uid}}
	if err := r.Update(ctx, job); err != nil && !apierrors.IsConflict(err) {
		return fmt.Errorf("setting the generated selector: %w", err)
	}
	log.FromContext(ctx).V(1).Info("Generated the selector", "controllerUID", uid)
	return nil
}
