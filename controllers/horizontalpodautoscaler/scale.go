package horizontalpodautoscaler

import (
	"context"
	"errors"
	"fmt"

	autoscalingv1 "k8s.io/api/autoscaling/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	autoscalingv1alpha1 "github.com/kybern/kybern/api/autoscaling/v1alpha1"
)

var scaleGVK = autoscalingv1.SchemeGroupVersion.WithKind("Scale")

// target is an autoscaler's scale target, as its scale subresource shows it.
type target struct {
	// object names the target with the group, version and kind its scale was read through.
	object *unstructured.Unstructured
	scale  autoscalingv1.Scale
}

// getScale reads the scale subresource of hpa's spec.scaleTargetRef, of any kind that has
// one. The kind is resolved through the REST mapper, trying each of its versions in turn,
// as upstream does; the error is the first version's when none works.
func (r *Reconciler) getScale(ctx context.Context, hpa *autoscalingv1alpha1.HorizontalPodAutoscaler) (*target, error) {
	ref := hpa.Spec.ScaleTargetRef
	gv, err := schema.ParseGroupVersion(ref.APIVersion)
	if err != nil {
		return nil, fmt.Errorf("invalid API version in scale target reference: %w", err)
	}
	mappings, err := r.Mapper.RESTMappings(schema.GroupKind{Group: gv.Group, Kind: ref.Kind})
	if err != nil {
		return nil, err
	}
	var first error
	for _, m := range mappings {
		t := &target{object: &unstructured.Unstructured{}}
		t.object.SetGroupVersionKind(m.GroupVersionKind)
		t.object.SetNamespace(hpa.Namespace)
		t.object.SetName(ref.Name)
		if err := r.readScale(ctx, t); err != nil {
			if first == nil {
				first = err
			}
			continue
		}
		return t, nil
	}
	if first == nil {
		first = errors.New("unrecognized resource")
	}
	return nil, first
}

func (r *Reconciler) readScale(ctx context.Context, t *target) error {
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(scaleGVK)
	if err := r.SubResource("scale").Get(ctx, t.object, u); err != nil {
		return err
	}
	return runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &t.scale)
}

// setScale sets the target's replicas. On a conflict it reads the scale again and retries,
// so that a concurrent change of anything else (its status, say) does not cost a sync.
func (r *Reconciler) setScale(ctx context.Context, t *target, replicas int32) error {
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		t.scale.Spec.Replicas = replicas
		raw, err := runtime.DefaultUnstructuredConverter.ToUnstructured(&t.scale)
		if err != nil {
			return err
		}
		body := &unstructured.Unstructured{Object: raw}
		body.SetGroupVersionKind(scaleGVK)
		err = r.SubResource("scale").Update(ctx, t.object, client.WithSubResourceBody(body))
		if apierrors.IsConflict(err) {
			if readErr := r.readScale(ctx, t); readErr != nil {
				return readErr
			}
		}
		return err
	})
}
