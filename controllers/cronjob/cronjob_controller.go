package cronjob

import (
	"context"
	"errors"
	"fmt"

	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/log"

	batchv1alpha1 "github.com/kybern/kybern/api/batch/v1alpha1"
	"github.com/kybern/kybern/controllers/internal/setup"
	"github.com/kybern/kybern/controllers/internal/specvalidation"
)

// Reconciler reconciles CronJobs.
type Reconciler struct {
	client.Client
	// APIReader reads around the cache, to tell a Job the cache has not seen yet from one
	// that is gone, and a stale CronJob from a fresh one.
	APIReader client.Reader
	Recorder  record.EventRecorder
	// Clock is the time schedule times are compared with.
	Clock clock.PassiveClock
}

// SetupWithManager registers the controller; cfg.Concurrency is how many CronJobs it
// reconciles at once.
func SetupWithManager(_ context.Context, mgr ctrl.Manager, cfg setup.Config) error {
	r := &Reconciler{Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), Recorder: cfg.Recorder, Clock: cfg.Clock}
	return ctrl.NewControllerManagedBy(mgr).
		For(&batchv1alpha1.CronJob{}).
		Owns(&batchv1alpha1.Job{}).
		WithOptions(controller.Options{MaxConcurrentReconciles: cfg.Concurrency}).
		Named("cronjob").
		Complete(r)
}

// errStaleCronJob means the cache holds an older CronJob than the apiserver; the newer
// one's watch event brings the reconcile back.
var errStaleCronJob = errors.New("cached CronJob is older than the apiserver's")

// +kubebuilder:rbac:groups=batch.kybern.io,resources=cronjobs,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=batch.kybern.io,resources=cronjobs/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=batch.kybern.io,resources=cronjobs/finalizers,verbs=update
// +kubebuilder:rbac:groups=batch.kybern.io,resources=jobs,verbs=get;list;watch;create;update;patch;delete

// Reconcile prunes a CronJob's finished Jobs beyond its history limits, brings
// status.active up to date with its Jobs, starts the Job for the latest schedule time that
// is due, writes the status once if it changed, and comes back at the next schedule time.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	orig := &batchv1alpha1.CronJob{}
	if err := r.Get(ctx, req.NamespacedName, orig); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if refused, err := specvalidation.Guard(ctx, r.Client, r.Recorder, orig, r.Clock.Now()); refused || err != nil {
		return ctrl.Result{}, err
	}
	logger := log.FromContext(ctx)
	jobs, err := r.ownedJobs(ctx, orig)
	if err != nil {
		return ctrl.Result{}, err
	}
	cj := orig.DeepCopy()
	pruneErr := r.pruneHistory(ctx, cj, jobs)
	result, syncErr := r.sync(ctx, cj, jobs)
	if errors.Is(syncErr, errStaleCronJob) {
		logger.V(1).Info("Cache lags the apiserver; waiting for the newer CronJob")
		return ctrl.Result{}, pruneErr
	}
	if !apiequality.Semantic.DeepEqual(cj.Status, orig.Status) {
		// An update, not a patch: it carries the resourceVersion, so a status.active that
		// another writer changed since the read is refused rather than overwritten.
		switch err := r.Status().Update(ctx, cj); {
		case apierrors.IsConflict(err):
			// A newer CronJob exists; its watch event brings this reconcile back.
			logger.V(1).Info("Status update conflicted; waiting for the newer CronJob")
			return ctrl.Result{}, errors.Join(pruneErr, syncErr)
		case err != nil:
			return ctrl.Result{}, errors.Join(fmt.Errorf("updating status of CronJob %s: %w", req, err), pruneErr, syncErr)
		}
		logger.V(1).Info("Updated status", "active", len(cj.Status.Active), "lastScheduleTime", cj.Status.LastScheduleTime)
	}
	if err := errors.Join(pruneErr, syncErr); err != nil {
		return ctrl.Result{}, err
	}
	return result, nil
}

// ownedJobs lists the Jobs in the CronJob's namespace that it controls, whatever their
// labels: the template's labels may have changed since they were made.
func (r *Reconciler) ownedJobs(ctx context.Context, cj *batchv1alpha1.CronJob) ([]*batchv1alpha1.Job, error) {
	var list batchv1alpha1.JobList
	if err := r.List(ctx, &list, client.InNamespace(cj.Namespace), client.UnsafeDisableDeepCopy); err != nil {
		return nil, fmt.Errorf("listing Jobs in namespace %s: %w", cj.Namespace, err)
	}
	var out []*batchv1alpha1.Job
	for i := range list.Items {
		if metav1.IsControlledBy(&list.Items[i], cj) {
			out = append(out, &list.Items[i])
		}
	}
	return out, nil
}

// pruneHistory deletes the oldest finished Jobs beyond the history limits, in the
// background (the garbage collector removes their pods). A failed delete gets a
// FailedDelete event and is returned, joined with the others, so that the reconcile retries.
func (r *Reconciler) pruneHistory(ctx context.Context, cj *batchv1alpha1.CronJob, jobs []*batchv1alpha1.Job) error {
	var errs []error
	for _, j := range jobsBeyondHistory(cj, jobs) {
		log.FromContext(ctx).V(1).Info("Deleting Job beyond the history limit", "job", j.Name)
		errs = append(errs, r.deleteJob(ctx, cj, j.Name, j.UID))
	}
	return errors.Join(errs...)
}
