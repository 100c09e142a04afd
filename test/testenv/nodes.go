package testenv

import (
	"context"
	"maps"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"

	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
)

// RegisterReadyNode creates a Node as a node agent registers one: the hostname label and
// the given labels, cpu
// to allocate (with 4Gi of memory and 110 pods) and a Ready condition. Node lifecycle
// writes the pod CIDR meanwhile, so the status write retries a conflict on a fresh read.
func RegisterReadyNode(ctx context.Context, c client.Client, name, cpu string, labels map[string]string) (*corev1alpha1.Node, error) {
	n := &corev1alpha1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{corev1.LabelHostname: name}}}
	maps.Copy(n.Labels, labels)
	if err := c.Create(ctx, n); err != nil {
		return nil, err
	}
	allocatable := corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu), corev1.ResourceMemory: resource.MustParse("4Gi"), corev1.ResourcePods: resource.MustParse("110")}
	err := wait.ExponentialBackoffWithContext(ctx, wait.Backoff{Steps: 10, Duration: 10 * time.Millisecond, Factor: 2}, func(ctx context.Context) (bool, error) {
		if err := c.Get(ctx, client.ObjectKeyFromObject(n), n); err != nil {
			return false, err
		}
		n.Status.Allocatable, n.Status.Capacity = allocatable, allocatable
		n.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue, LastHeartbeatTime: metav1.Now(), LastTransitionTime: metav1.Now()}}
		switch err := c.Status().Update(ctx, n); {
		case apierrors.IsConflict(err):
			return false, nil
		case err != nil:
			return false, err
		}
		return true, nil
	})
	return n, err
}

// PodsPerNode counts the pods of a namespace by spec.nodeName; "" counts unbound ones.
func PodsPerNode(ctx context.Context, c client.Client, ns string) (map[string]int, error) {
	var pods corev1alpha1.PodList
	if err := c.List(ctx, &pods, client.InNamespace(ns)); err != nil {
		return nil, err
	}
	out := map[string]int{}
	for _, p := range pods.Items {
		out[p.Spec.NodeName]++
	}
	return out, nil
}
