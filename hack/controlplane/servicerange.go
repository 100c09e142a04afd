package main

import (
	"context"
	"fmt"
	"slices"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
	"github.com/kybern/kybern/test/testenv/clusterca"
)

// moveServiceRange brings a control plane whose data predates kybern's service range
// (10.0.0.0/24, envtest's) onto it: the apiserver keeps the default ServiceCIDR and the
// kubernetes Service it made first, so both are deleted and it makes them again from its
// flags, which the pods' certificate and routes expect.
func moveServiceRange(ctx context.Context, cfg *rest.Config) error {
	c, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	cidr, err := c.NetworkingV1().ServiceCIDRs().Get(ctx, "kubernetes", metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading the default ServiceCIDR: %w", err)
	}
	if slices.Equal(cidr.Spec.CIDRs, []string{corev1alpha1.DefaultServiceClusterIPRange}) {
		return nil
	}
	fmt.Printf("Control plane: moving the kubernetes Service from %v to %s\n", cidr.Spec.CIDRs, corev1alpha1.DefaultServiceClusterIPRange)
	if err := c.NetworkingV1().ServiceCIDRs().Delete(ctx, "kubernetes", metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	if err := c.CoreV1().Services(metav1.NamespaceDefault).Delete(ctx, "kubernetes", metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	return wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		svc, err := c.CoreV1().Services(metav1.NamespaceDefault).Get(ctx, "kubernetes", metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return false, nil
		}
		return err == nil && svc.Spec.ClusterIP == clusterca.KubernetesServiceIP.String(), err
	})
}
