// Package api gathers kybern's API groups; each version lives in api/<group>/<version>.
package api

import (
	"k8s.io/apimachinery/pkg/runtime"

	appsv1alpha1 "github.com/kybern/kybern/api/apps/v1alpha1"
	autoscalingv1alpha1 "github.com/kybern/kybern/api/autoscaling/v1alpha1"
	batchv1alpha1 "github.com/kybern/kybern/api/batch/v1alpha1"
	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
)

// AddToScheme registers every kybern kind with s.
func AddToScheme(s *runtime.Scheme) error {
	for _, add := range []func(*runtime.Scheme) error{
		corev1alpha1.AddToScheme,
		appsv1alpha1.AddToScheme,
		batchv1alpha1.AddToScheme,
		autoscalingv1alpha1.AddToScheme,
	} {
		if err := add(s); err != nil {
			return err
		}
	}
	return nil
}
