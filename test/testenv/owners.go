package testenv

import (
	"context"

	"sigs.k8s.io/controller-runtime/pkg/client"
)

// OwnerNames are obj's owners, each as Kind/name.
func OwnerNames(obj client.Object) []string {
	var names []string
	for _, r := range obj.GetOwnerReferences() {
		names = append(names, r.Kind+"/"+r.Name)
	}
	return names
}

// OwnersOf reads obj again through c and returns its owners as OwnerNames does, for
// Eventually.
func OwnersOf(ctx context.Context, c client.Reader, obj client.Object) func() ([]string, error) {
	return func() ([]string, error) {
		err := c.Get(ctx, client.ObjectKeyFromObject(obj), obj)
		return OwnerNames(obj), err
	}
}
