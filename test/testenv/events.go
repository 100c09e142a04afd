package testenv

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// EventsOf returns a poll of the core/v1 Events about obj (by kind and name in its
// namespace), for Eventually.
func EventsOf(ctx context.Context, c client.Reader, obj client.Object, kind string) func() ([]corev1.Event, error) {
	return func() ([]corev1.Event, error) {
		var list corev1.EventList
		if err := c.List(ctx, &list, client.InNamespace(obj.GetNamespace())); err != nil {
			return nil, err
		}
		var out []corev1.Event
		for _, e := range list.Items {
			if e.InvolvedObject.Kind == kind && e.InvolvedObject.Name == obj.GetName() {
				out = append(out, e)
			}
		}
		return out, nil
	}
}
