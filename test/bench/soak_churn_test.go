package bench

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	appsv1alpha1 "github.com/kybern/kybern/api/apps/v1alpha1"
	batchv1alpha1 "github.com/kybern/kybern/api/batch/v1alpha1"
	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
)

// stepLimit bounds each wait of a churn round: a step that takes longer is a failure.
const stepLimit = 3 * time.Minute

// churn is one soak round's work in namespace ns: two Deployments and a Job at once.
type churn struct {
	c  client.Client
	ns string
}

// round creates, scales, rolls out and deletes two Deployments of busybox httpd, and runs
// and deletes a Job of busybox echo, concurrently; it returns once every object and pod it
// made is gone.
func (ch churn) round(ctx context.Context, i int) error {
	var wg sync.WaitGroup
	errs := make([]error, 3)
	for d := range 2 {
		wg.Go(func() { errs[d] = ch.deployment(ctx, fmt.Sprintf("web-%d-%d", i, d)) })
	}
	wg.Go(func() { errs[2] = ch.job(ctx, fmt.Sprintf("echo-%d", i)) })
	wg.Wait()
	return errors.Join(errs...)
}

// deployment runs one Deployment through create (2 replicas), scale up (4), a template
// update (a rollout to a new ReplicaSet), scale down (1) and delete, each step waited for.
func (ch churn) deployment(ctx context.Context, name string) error {
	d := &appsv1alpha1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: ch.ns, Name: name}}
	d.Spec.Replicas = ptr.To[int32](2)
	d.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}}
	d.Spec.Template.Labels = map[string]string{"app": name}
	// httpd as PID 1 ignores SIGTERM: a short grace period keeps deletes quick.
	d.Spec.Template.Spec.TerminationGracePeriodSeconds = ptr.To[int64](1)
	d.Spec.Template.Spec.Containers = []corev1.Container{{Name: "httpd", Image: "busybox",
		Command: []string{"httpd", "-f", "-p", "8080", "-h", "/"},
		Env:     []corev1.EnvVar{{Name: "REVISION", Value: "1"}}}}
	if err := ch.c.Create(ctx, d); err != nil {
		return fmt.Errorf("creating Deployment %s: %w", name, err)
	}
	if err := ch.rolledOut(ctx, d, 2); err != nil {
		return err
	}
	for _, step := range []struct {
		replicas int32
		revision int
	}{{4, 1}, {4, 2}, {1, 2}} {
		err := ch.update(ctx, d, func(d *appsv1alpha1.Deployment) {
			d.Spec.Replicas = ptr.To(step.replicas)
			d.Spec.Template.Spec.Containers[0].Env[0].Value = strconv.Itoa(step.revision)
		})
		if err != nil {
			return err
		}
		if err := ch.rolledOut(ctx, d, step.replicas); err != nil {
			return err
		}
	}
	if err := ch.c.Delete(ctx, d, client.PropagationPolicy(metav1.DeletePropagationBackground)); err != nil {
		return fmt.Errorf("deleting Deployment %s: %w", name, err)
	}
	return ch.podsGone(ctx, "Deployment "+name, map[string]string{"app": name})
}

// update applies change to the Deployment's latest version, retrying on conflicts.
func (ch churn) update(ctx context.Context, d *appsv1alpha1.Deployment, change func(*appsv1alpha1.Deployment)) error {
	for {
		if err := ch.c.Get(ctx, client.ObjectKeyFromObject(d), d); err != nil {
			return fmt.Errorf("reading Deployment %s: %w", d.Name, err)
		}
		change(d)
		err := ch.c.Update(ctx, d)
		if !apierrors.IsConflict(err) {
			if err != nil {
				return fmt.Errorf("updating Deployment %s: %w", d.Name, err)
			}
			return nil
		}
	}
}

// rolledOut waits until the Deployment's controller has seen its latest generation and
// all of its replicas are updated, available and the only ones left.
func (ch churn) rolledOut(ctx context.Context, d *appsv1alpha1.Deployment, replicas int32) error {
	var last appsv1.DeploymentStatus
	err := poll(ctx, func(ctx context.Context) (bool, error) {
		cur := &appsv1alpha1.Deployment{}
		if err := ch.c.Get(ctx, client.ObjectKeyFromObject(d), cur); err != nil {
			return false, err
		}
		s := cur.Status.DeploymentStatus
		last = s
		return s.ObservedGeneration >= cur.Generation && s.Replicas == replicas && s.UpdatedReplicas == replicas &&
			s.AvailableReplicas == replicas, nil
	})
	if err != nil {
		return fmt.Errorf("Deployment %s rolling out %d replicas (last status %+v): %w", d.Name, replicas, last, err)
	}
	return nil
}

// job runs a Job of three completions, two at a time, until it is Complete, then deletes it.
func (ch churn) job(ctx context.Context, name string) error {
	j := &batchv1alpha1.Job{ObjectMeta: metav1.ObjectMeta{Namespace: ch.ns, Name: name}}
	j.Spec.Completions, j.Spec.Parallelism = ptr.To[int32](3), ptr.To[int32](2)
	j.Spec.BackoffLimit = ptr.To[int32](2)
	j.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyNever
	j.Spec.Template.Spec.Containers = []corev1.Container{{Name: "echo", Image: "busybox", Command: []string{"sh", "-c", "echo done"}}}
	if err := ch.c.Create(ctx, j); err != nil {
		return fmt.Errorf("creating Job %s: %w", name, err)
	}
	var last batchv1.JobStatus
	err := poll(ctx, func(ctx context.Context) (bool, error) {
		cur := &batchv1alpha1.Job{}
		if err := ch.c.Get(ctx, client.ObjectKeyFromObject(j), cur); err != nil {
			return false, err
		}
		last = cur.Status
		for _, c := range cur.Status.Conditions {
			if c.Status == corev1.ConditionTrue && (c.Type == batchv1.JobFailed || c.Type == batchv1.JobFailureTarget) {
				return false, fmt.Errorf("Job %s failed: %s", name, c.Message)
			}
			if c.Status == corev1.ConditionTrue && c.Type == batchv1.JobComplete {
				return true, nil
			}
		}
		return false, nil
	})
	if err != nil {
		return fmt.Errorf("Job %s completing (last status %+v): %w", name, last, err)
	}
	if err := ch.c.Delete(ctx, j, client.PropagationPolicy(metav1.DeletePropagationBackground)); err != nil {
		return fmt.Errorf("deleting Job %s: %w", name, err)
	}
	return ch.podsGone(ctx, "Job "+name, map[string]string{"batch.kubernetes.io/job-name": name})
}

// podsGone waits until no pod of what with labels is left, once the agents removed them.
func (ch churn) podsGone(ctx context.Context, what string, labels map[string]string) error {
	left := 0
	err := poll(ctx, func(ctx context.Context) (bool, error) {
		var pods corev1alpha1.PodList
		if err := ch.c.List(ctx, &pods, client.InNamespace(ch.ns), client.MatchingLabels(labels)); err != nil {
			return false, err
		}
		left = len(pods.Items)
		return left == 0, nil
	})
	if err != nil {
		return fmt.Errorf("%s deleted, %d pods still left: %w", what, left, err)
	}
	return nil
}

// poll checks cond every 200ms until it holds, fails, or stepLimit passes.
func poll(ctx context.Context, cond wait.ConditionWithContextFunc) error {
	return wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, stepLimit, true, cond)
}
