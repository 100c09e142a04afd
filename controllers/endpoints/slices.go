package endpoints

import (
	"maps"
	"slices"
	"strings"

	discoveryv1 "k8s.io/api/discovery/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
)

// Labels every slice of the controller carries, as upstream's.
const (
	// LabelServiceName names the Service a slice belongs to.
	LabelServiceName = discoveryv1.LabelServiceName
	// LabelManagedBy names the controller that writes a slice.
	LabelManagedBy = discoveryv1.LabelManagedBy
	// ManagedBy is this controller's LabelManagedBy value, upstream's.
	ManagedBy = "endpointslice-controller.k8s.io"
	// LabelHeadless marks the slices of a Service without a cluster IP.
	LabelHeadless = "service.kubernetes.io/headless"
	// maxEndpointsPerSlice is upstream's default --max-endpoints-per-slice.
	maxEndpointsPerSlice = 100
)

// plan is the writes that bring a Service's slices to what its pods say.
type plan struct {
	create []*corev1alpha1.EndpointSlice
	update []*corev1alpha1.EndpointSlice
	delete []*corev1alpha1.EndpointSlice
}

// planSlices fits groups into svc's existing slices, changing as few as it can: an
// endpoint that is still wanted stays in its slice, new endpoints fill slices with room
// before new slices are made, and a slice left empty is reused for a new one or deleted. When there are no
// endpoints at all one slice without ports or endpoints is kept. Slices that svc does not
// control are deleted. existing is not modified; updates are copies.
func planSlices(svc *corev1alpha1.Service, existing []*corev1alpha1.EndpointSlice, groups map[string]*group) plan {
	var p plan
	byKey := map[string][]*corev1alpha1.EndpointSlice{}
	for _, s := range existing {
		if !metav1.IsControlledBy(s, svc) {
			p.delete = append(p.delete, s)
			continue
		}
		byKey[portsKey(s.Ports)] = append(byKey[portsKey(s.Ports)], s)
	}
	for _, key := range slices.Sorted(maps.Keys(byKey)) {
		slices.SortFunc(byKey[key], func(a, b *corev1alpha1.EndpointSlice) int { return strings.Compare(a.Name, b.Name) })
	}
	labels := sliceLabels(svc)
	var emptied []*corev1alpha1.EndpointSlice
	for _, key := range slices.Sorted(maps.Keys(groups)) {
		g := groups[key]
		kept, fresh := placeEndpoints(byKey[key], g.endpoints)
		for i, s := range byKey[key] {
			if len(kept[i]) == 0 {
				emptied = append(emptied, s)
			} else if u, changed := withContent(s, labels, s.Ports, kept[i]); changed {
				p.update = append(p.update, u)
			}
		}
		delete(byKey, key)
		for chunk := range slices.Chunk(fresh, maxEndpointsPerSlice) {
			p.create = append(p.create, newSlice(svc, labels, g.ports, chunk))
		}
	}
	for _, key := range slices.Sorted(maps.Keys(byKey)) {
		emptied = append(emptied, byKey[key]...)
	}
	if len(groups) == 0 {
		// The placeholder: one slice says the Service has no endpoints.
		if len(emptied) == 0 {
			p.create = append(p.create, newSlice(svc, labels, []discoveryv1.EndpointPort{}, nil))
		} else if u, changed := withContent(emptied[0], labels, []discoveryv1.EndpointPort{}, []discoveryv1.Endpoint{}); changed {
			p.update = append(p.update, u)
			emptied = emptied[1:]
		} else {
			emptied = emptied[1:]
		}
	}
	// A slice that would be deleted while another is created is rewritten instead: one
	// write, not two.
	for len(emptied) > 0 && len(p.create) > 0 {
		u, _ := withContent(emptied[0], labels, p.create[0].Ports, p.create[0].Endpoints)
		p.update = append(p.update, u)
		emptied, p.create = emptied[1:], p.create[1:]
	}
	p.delete = append(p.delete, emptied...)
	return p
}

// placeEndpoints splits want between the slices have: kept[i] is what stays in have[i],
// in its order, with its slice filled up to the maximum from what is new; fresh is what
// needs new slices.
func placeEndpoints(have []*corev1alpha1.EndpointSlice, want []discoveryv1.Endpoint) (kept [][]discoveryv1.Endpoint, fresh []discoveryv1.Endpoint) {
	byAddr := map[string]discoveryv1.Endpoint{}
	for _, ep := range want {
		byAddr[ep.Addresses[0]] = ep
	}
	kept = make([][]discoveryv1.Endpoint, len(have))
	for i, s := range have {
		for _, ep := range s.Endpoints {
			if len(ep.Addresses) == 0 || len(kept[i]) == maxEndpointsPerSlice {
				continue
			}
			if w, ok := byAddr[ep.Addresses[0]]; ok {
				kept[i] = append(kept[i], w)
				delete(byAddr, ep.Addresses[0])
			}
		}
	}
	for _, ep := range want {
		if _, ok := byAddr[ep.Addresses[0]]; ok {
			fresh = append(fresh, ep)
		}
	}
	for i := range kept {
		if len(kept[i]) == 0 {
			// An emptied slice is deleted rather than refilled.
			continue
		}
		n := min(maxEndpointsPerSlice-len(kept[i]), len(fresh))
		kept[i], fresh = append(kept[i], fresh[:n]...), fresh[n:]
	}
	return kept, fresh
}

// withContent is a copy of s with these labels, ports and endpoints, and whether that
// differs from s.
func withContent(s *corev1alpha1.EndpointSlice, labels map[string]string, ports []discoveryv1.EndpointPort, eps []discoveryv1.Endpoint) (*corev1alpha1.EndpointSlice, bool) {
	if apiequality.Semantic.DeepEqual(s.Labels, labels) && apiequality.Semantic.DeepEqual(s.Ports, ports) &&
		apiequality.Semantic.DeepEqual(s.Endpoints, eps) && s.AddressType == discoveryv1.AddressTypeIPv4 {
		return s, false
	}
	u := s.DeepCopy()
	u.Labels, u.Ports, u.Endpoints = labels, ports, eps
	return u, true
}

func newSlice(svc *corev1alpha1.Service, labels map[string]string, ports []discoveryv1.EndpointPort, eps []discoveryv1.Endpoint) *corev1alpha1.EndpointSlice {
	return &corev1alpha1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: svc.Namespace, GenerateName: svc.Name + "-", Labels: labels,
			OwnerReferences: []metav1.OwnerReference{{APIVersion: gvk.GroupVersion().String(), Kind: gvk.Kind,
				Name: svc.Name, UID: svc.UID, Controller: ptr.To(true), BlockOwnerDeletion: ptr.To(true)}},
		},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       ports,
		Endpoints:   append([]discoveryv1.Endpoint{}, eps...),
	}
}

// sliceLabels are svc's own labels, except those the controller sets, with the service
// name, the manager and, for a headless Service, the headless label.
func sliceLabels(svc *corev1alpha1.Service) map[string]string {
	out := map[string]string{}
	for k, v := range svc.Labels {
		if k != LabelServiceName && k != LabelManagedBy && k != LabelHeadless {
			out[k] = v
		}
	}
	out[LabelServiceName] = svc.Name
	out[LabelManagedBy] = ManagedBy
	if svc.Spec.ClusterIP == "None" {
		out[LabelHeadless] = ""
	}
	return out
}
