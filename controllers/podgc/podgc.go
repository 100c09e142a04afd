package podgc

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/manager"

	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
	"github.com/kybern/kybern/controllers/internal/setup"
)

// Upstream's timings: a pass every gcCheckPeriod, and a Node missing for quarantineTime
// before its pods count as orphaned, so that a cache that lags behind a new Node does not
// collect its pods.
const (
	DefaultPeriod     = 20 * time.Second
	DefaultQuarantine = 40 * time.Second
)

// Collector is the pod garbage collector. Its passes run on the leader only.
type Collector struct {
	Client client.Client
	// APIReader confirms with the apiserver that a Node is gone.
	APIReader client.Reader
	Clock     clock.PassiveClock
	// Threshold is --terminated-pod-gc-threshold.
	Threshold  int
	Period     time.Duration
	Quarantine time.Duration

	// missingSince is when each Node that pods name was first missing from the cache.
	missingSince map[string]time.Time
}

// SetupWithManager runs the collector as one of the manager's leader-elected runnables.
func SetupWithManager(_ context.Context, mgr ctrl.Manager, cfg setup.Config) error {
	c := &Collector{Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), Clock: cfg.Clock,
		Threshold: cfg.TerminatedPodGCThreshold, Period: cfg.PodGCPeriod, Quarantine: cfg.PodGCQuarantine}
	return mgr.Add(manager.RunnableFunc(func(ctx context.Context) error {
		ctx = log.IntoContext(ctx, mgr.GetLogger().WithName("podgc"))
		wait.UntilWithContext(ctx, func(ctx context.Context) {
			if err := c.Pass(ctx); err != nil {
				log.FromContext(ctx).Error(err, "Pod garbage collection pass failed; the next one retries")
			}
		}, c.Period)
		return nil
	}))
}

// +kubebuilder:rbac:groups=core.kybern.io,resources=pods,verbs=get;list;watch;patch;delete
// +kubebuilder:rbac:groups=core.kybern.io,resources=pods/status,verbs=get;patch
// +kubebuilder:rbac:groups=core.kybern.io,resources=nodes,verbs=get;list;watch

// Pass runs one collection: it reads the cache, confirms missing Nodes with the apiserver,
// and acts on every pod plan picks, going on past a pod that fails.
func (c *Collector) Pass(ctx context.Context) error {
	var pods corev1alpha1.PodList
	if err := c.Client.List(ctx, &pods); err != nil {
		return err
	}
	var nodeList corev1alpha1.NodeList
	if err := c.Client.List(ctx, &nodeList); err != nil {
		return err
	}
	nodes := make(map[string]*corev1alpha1.Node, len(nodeList.Items))
	for i := range nodeList.Items {
		nodes[nodeList.Items[i].Name] = &nodeList.Items[i]
	}
	gone, err := c.goneNodes(ctx, pods.Items, nodes)
	if err != nil {
		return err
	}
	var errs []error
	for _, a := range plan(snapshot{pods: pods.Items, nodes: nodes, gone: gone, threshold: c.Threshold}) {
		if err := c.act(ctx, a); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%d pods not collected, the first: %w", len(errs), errs[0])
	}
	return nil
}

// goneNodes are the Nodes pods are bound to that have been missing from the cache for the
// quarantine and that the apiserver does not have either.
func (c *Collector) goneNodes(ctx context.Context, pods []corev1alpha1.Pod, nodes map[string]*corev1alpha1.Node) (sets.Set[string], error) {
	now := c.Clock.Now()
	missing := map[string]time.Time{}
	gone := sets.New[string]()
	for _, p := range pods {
		name := p.Spec.NodeName
		if name == "" || nodes[name] != nil {
			continue
		}
		if _, seen := missing[name]; seen {
			continue
		}
		since, ok := c.missingSince[name]
		if !ok {
			since = now
		}
		missing[name] = since
		if now.Sub(since) < c.Quarantine {
			continue
		}
		err := c.APIReader.Get(ctx, client.ObjectKey{Name: name}, &corev1alpha1.Node{})
		switch {
		case apierrors.IsNotFound(err):
			gone.Insert(name)
		case err != nil:
			return nil, fmt.Errorf("checking whether node %s exists: %w", name, err)
		default:
			delete(missing, name) // The cache lags: the Node is there.
		}
	}
	c.missingSince = missing
	return gone, nil
}

// act carries out a: Failed with a DisruptionTarget condition and the agent's finalizer
// removed when a says why, then the deletion.
func (c *Collector) act(ctx context.Context, a action) error {
	p := a.pod
	logger := log.FromContext(ctx).WithValues("pod", client.ObjectKeyFromObject(p), "node", p.Spec.NodeName)
	if a.message != "" {
		if err := c.markFailed(ctx, p, a.message); err != nil {
			return client.IgnoreNotFound(err)
		}
		if err := c.release(ctx, p); err != nil {
			return client.IgnoreNotFound(err)
		}
	}
	if a.deleteIt && p.DeletionTimestamp == nil {
		if err := c.Client.Delete(ctx, p, client.Preconditions{UID: &p.UID}); client.IgnoreNotFound(err) != nil && !apierrors.IsConflict(err) {
			return fmt.Errorf("deleting pod %s/%s: %w", p.Namespace, p.Name, err)
		}
	}
	logger.Info("Collected pod", "why", collectedWhy(a))
	return nil
}

func collectedWhy(a action) string {
	if a.message != "" {
		return a.message
	}
	return "terminated, beyond --terminated-pod-gc-threshold"
}

// markFailed makes a pod that has not finished Failed, with upstream's DisruptionTarget
// condition; a finished pod keeps its phase.
func (c *Collector) markFailed(ctx context.Context, p *corev1alpha1.Pod, message string) error {
	if finished(p) {
		return nil
	}
	orig := p.DeepCopy()
	p.Status.Phase = corev1.PodFailed
	now := metav1.NewTime(c.Clock.Now())
	cond := corev1.PodCondition{Type: corev1.DisruptionTarget, Status: corev1.ConditionTrue, Reason: ReasonDeletionByPodGC, Message: message, LastTransitionTime: now}
	replaced := false
	for i := range p.Status.Conditions {
		if p.Status.Conditions[i].Type == corev1.DisruptionTarget {
			p.Status.Conditions[i], replaced = cond, true
		}
	}
	if !replaced {
		p.Status.Conditions = append(p.Status.Conditions, cond)
	}
	if err := c.Client.Status().Patch(ctx, p, client.MergeFromWithOptions(orig, client.MergeFromWithOptimisticLock{})); err != nil {
		return fmt.Errorf("marking pod %s/%s Failed: %w", p.Namespace, p.Name, err)
	}
	return nil
}

// release removes the node agent's finalizer, which no agent is left to remove.
func (c *Collector) release(ctx context.Context, p *corev1alpha1.Pod) error {
	if !controllerutil.ContainsFinalizer(p, corev1alpha1.NodeAgentFinalizer) {
		return nil
	}
	orig := p.DeepCopy()
	controllerutil.RemoveFinalizer(p, corev1alpha1.NodeAgentFinalizer)
	if err := c.Client.Patch(ctx, p, client.MergeFromWithOptions(orig, client.MergeFromWithOptimisticLock{})); err != nil {
		return fmt.Errorf("removing the node agent's finalizer from pod %s/%s: %w", p.Namespace, p.Name, err)
	}
	return nil
}
