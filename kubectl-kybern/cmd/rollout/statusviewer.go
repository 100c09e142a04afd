package rollout

import (
	"fmt"
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"

	appsv1alpha1 "github.com/kybern/kybern/api/apps/v1alpha1"
	"github.com/kybern/kybern/kubectl-kybern/cmd/cli"
)

// revisionAnnotation holds a Deployment's current revision, and each of its ReplicaSets'.
const revisionAnnotation = "deployment.kubernetes.io/revision"

// progressDeadlineExceeded is the reason of a Deployment's Progressing condition once its
// rollout has made no progress for spec.progressDeadlineSeconds.
const progressDeadlineExceeded = "ProgressDeadlineExceeded"

// statusOf reports the rollout of obj, a Deployment, DaemonSet or StatefulSet, as kubectl
// rollout status does: a message (newline-terminated) and whether the rollout is done. It
// fails when the rollout cannot finish as it stands: one that automatic rollback undid
// (RolledBack=True), a Deployment past its progress deadline, or one running another
// revision than revision (0: any).
func statusOf(k *cli.Kind, obj *unstructured.Unstructured, revision int64) (string, bool, error) {
	switch k {
	case cli.Deployment:
		d := &appsv1alpha1.Deployment{}
		if err := fromUnstructured(obj, d); err != nil {
			return "", false, err
		}
		return deploymentStatus(d, revision)
	case cli.DaemonSet:
		ds := &appsv1alpha1.DaemonSet{}
		if err := fromUnstructured(obj, ds); err != nil {
			return "", false, err
		}
		return daemonSetStatus(ds)
	case cli.StatefulSet:
		sts := &appsv1alpha1.StatefulSet{}
		if err := fromUnstructured(obj, sts); err != nil {
			return "", false, err
		}
		return statefulSetStatus(sts)
	}
	return "", false, fmt.Errorf("no status viewer has been implemented for %v", k.GVK.GroupKind())
}

func fromUnstructured(obj *unstructured.Unstructured, into any) error {
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(obj.UnstructuredContent(), into); err != nil {
		return fmt.Errorf("decoding %s %q: %w", obj.GetKind(), obj.GetName(), err)
	}
	return nil
}

func deploymentStatus(d *appsv1alpha1.Deployment, revision int64) (string, bool, error) {
	if revision > 0 {
		running, err := strconv.ParseInt(d.Annotations[revisionAnnotation], 10, 64)
		if err != nil {
			return "", false, fmt.Errorf("cannot get the revision of deployment %q: %w", d.Name, err)
		}
		if running != revision {
			return "", false, fmt.Errorf("desired revision (%d) is different from the running revision (%d)", revision, running)
		}
	}
	if d.Generation > d.Status.ObservedGeneration {
		return "Waiting for deployment spec update to be observed...\n", false, nil
	}
	for _, c := range d.Status.Conditions {
		if c.Type == appsv1alpha1.RolledBack && c.Status == corev1.ConditionTrue {
			return "", false, rolledBack("deployment", d.Name, c.Reason, c.Message)
		}
	}
	for _, c := range d.Status.Conditions {
		if c.Type == appsv1.DeploymentProgressing && c.Reason == progressDeadlineExceeded {
			return "", false, fmt.Errorf("deployment %q exceeded its progress deadline", d.Name)
		}
	}
	st := d.Status
	switch {
	case d.Spec.Replicas != nil && st.UpdatedReplicas < *d.Spec.Replicas:
		return fmt.Sprintf("Waiting for deployment %q rollout to finish: %d out of %d new replicas have been updated...\n", d.Name, st.UpdatedReplicas, *d.Spec.Replicas), false, nil
	case st.Replicas > st.UpdatedReplicas:
		return fmt.Sprintf("Waiting for deployment %q rollout to finish: %d old replicas are pending termination...\n", d.Name, st.Replicas-st.UpdatedReplicas), false, nil
	case st.AvailableReplicas < st.UpdatedReplicas:
		return fmt.Sprintf("Waiting for deployment %q rollout to finish: %d of %d updated replicas are available...\n", d.Name, st.AvailableReplicas, st.UpdatedReplicas), false, nil
	}
	return fmt.Sprintf("deployment %q successfully rolled out\n", d.Name), true, nil
}

// rolledBack is the error of a rollout that automatic rollback undid: spec.template
// will not roll out until it changes, so waiting longer would not help.
func rolledBack(kind, name, reason, message string) error {
	return fmt.Errorf("%s %q was rolled back (%s): %s", kind, name, reason, message)
}

// daemonSetStatus treats a DaemonSet without a strategy type as RollingUpdate, the type
// upstream's defaulting gives it and kybern's controller assumes.
func daemonSetStatus(ds *appsv1alpha1.DaemonSet) (string, bool, error) {
	if t := ds.Spec.UpdateStrategy.Type; t != "" && t != appsv1.RollingUpdateDaemonSetStrategyType {
		return "", true, fmt.Errorf("rollout status is only available for %s strategy type", appsv1.RollingUpdateDaemonSetStrategyType)
	}
	if ds.Generation > ds.Status.ObservedGeneration {
		return "Waiting for daemon set spec update to be observed...\n", false, nil
	}
	for _, c := range ds.Status.Conditions {
		if c.Type == appsv1alpha1.RolledBack && c.Status == corev1.ConditionTrue {
			return "", false, rolledBack("daemon set", ds.Name, c.Reason, c.Message)
		}
	}
	st := ds.Status
	switch {
	case st.UpdatedNumberScheduled < st.DesiredNumberScheduled:
		return fmt.Sprintf("Waiting for daemon set %q rollout to finish: %d out of %d new pods have been updated...\n", ds.Name, st.UpdatedNumberScheduled, st.DesiredNumberScheduled), false, nil
	case st.NumberAvailable < st.DesiredNumberScheduled:
		return fmt.Sprintf("Waiting for daemon set %q rollout to finish: %d of %d updated pods are available...\n", ds.Name, st.NumberAvailable, st.DesiredNumberScheduled), false, nil
	}
	return fmt.Sprintf("daemon set %q successfully rolled out\n", ds.Name), true, nil
}

// statefulSetStatus reports as upstream's does for a RollingUpdate, whose partition
// upstream's defaulting sets and kybern's controller takes as 0 when unset: the rollout is
// done once every pod from the partition up runs the update revision. A StatefulSet
// without a strategy type is a RollingUpdate, as both take it.
func statefulSetStatus(sts *appsv1alpha1.StatefulSet) (string, bool, error) {
	strategy := sts.Spec.UpdateStrategy
	if strategy.Type != "" && strategy.Type != appsv1.RollingUpdateStatefulSetStrategyType {
		return "", true, fmt.Errorf("rollout status is only available for %s strategy type", appsv1.RollingUpdateStatefulSetStrategyType)
	}
	st := sts.Status
	if st.ObservedGeneration == 0 || sts.Generation > st.ObservedGeneration {
		return "Waiting for statefulset spec update to be observed...\n", false, nil
	}
	for _, c := range st.Conditions {
		if c.Type == appsv1alpha1.RolledBack && c.Status == corev1.ConditionTrue {
			return "", false, rolledBack("statefulset", sts.Name, c.Reason, c.Message)
		}
	}
	if sts.Spec.Replicas != nil {
		if st.ReadyReplicas < *sts.Spec.Replicas {
			return fmt.Sprintf("Waiting for %d pods to be ready...\n", *sts.Spec.Replicas-st.ReadyReplicas), false, nil
		}
		var partition int32
		if strategy.RollingUpdate != nil && strategy.RollingUpdate.Partition != nil {
			partition = *strategy.RollingUpdate.Partition
		}
		if want := *sts.Spec.Replicas - partition; st.UpdatedReplicas < want {
			return fmt.Sprintf("Waiting for partitioned roll out to finish: %d out of %d new pods have been updated...\n", st.UpdatedReplicas, want), false, nil
		}
	}
	return fmt.Sprintf("partitioned roll out complete: %d new pods have been updated...\n", st.UpdatedReplicas), true, nil
}
