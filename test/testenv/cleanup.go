package testenv

import (
	"context"
	"time"

	"github.com/onsi/gomega"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	appsv1alpha1 "github.com/kybern/kybern/api/apps/v1alpha1"
	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
)

// RemoveDeploymentPods deletes every Deployment and ReplicaSet, then every pod, in every
// namespace, and waits up to two minutes until the node agents have stopped their
// containers and let the pods go.
func RemoveDeploymentPods(ctx context.Context, c client.Client) {
	for _, kind := range []client.Object{&appsv1alpha1.Deployment{}, &appsv1alpha1.ReplicaSet{}, &corev1alpha1.Pod{}} {
		var nss corev1.NamespaceList
		gomega.ExpectWithOffset(1, c.List(ctx, &nss)).To(gomega.Succeed())
		for _, ns := range nss.Items {
			gomega.ExpectWithOffset(1, c.DeleteAllOf(ctx, kind, client.InNamespace(ns.Name))).To(gomega.Succeed())
		}
	}
	gomega.EventuallyWithOffset(1, func() ([]corev1alpha1.Pod, error) {
		var left corev1alpha1.PodList
		err := c.List(ctx, &left)
		return left.Items, err
	}, 2*time.Minute).Should(gomega.BeEmpty())
}
