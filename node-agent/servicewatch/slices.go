package servicewatch

import (
	discoveryv1 "k8s.io/api/discovery/v1"

	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
)

// SlicesByService groups the IPv4 EndpointSlices by "<namespace>/<service>", the Service
// their kubernetes.io/service-name label names.
func SlicesByService(slices []corev1alpha1.EndpointSlice) map[string][]*corev1alpha1.EndpointSlice {
	out := map[string][]*corev1alpha1.EndpointSlice{}
	for i := range slices {
		s := &slices[i]
		if s.AddressType == discoveryv1.AddressTypeIPv4 {
			key := s.Namespace + "/" + s.Labels[discoveryv1.LabelServiceName]
			out[key] = append(out[key], s)
		}
	}
	return out
}

// Ready reports whether an endpoint takes traffic: its ready condition is true, or unset,
// as discovery/v1 says to read it.
func Ready(e discoveryv1.Endpoint) bool {
	return e.Conditions.Ready == nil || *e.Conditions.Ready
}
