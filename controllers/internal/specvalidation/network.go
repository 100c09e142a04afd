package specvalidation

import (
	"slices"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	apiservice "k8s.io/kubernetes/pkg/api/service"
	"k8s.io/kubernetes/pkg/apis/core"
	corevalidation "k8s.io/kubernetes/pkg/apis/core/validation"
	"k8s.io/kubernetes/pkg/apis/discovery"
	_ "k8s.io/kubernetes/pkg/apis/discovery/install" // discovery/v1's defaults and conversions
	discoveryvalidation "k8s.io/kubernetes/pkg/apis/discovery/validation"

	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
)

// validateService judges a Service as upstream's apiserver does before it allocates:
// clusterIPs follows clusterIP as upstream's registry makes it, and on update fields of a
// type the Service leaves are dropped. An update that leaves out the allocated clusterIP
// is refused before it gets here, by the CRD's rule that clusterIP is immutable once set
// (kybern mutates no request, where upstream's registry would put it back; a server-side
// apply of the original manifest keeps it). Only metadata and spec are judged: status has
// its own subresource.
func validateService(svc *corev1alpha1.Service, old runtime.Object) (field.ErrorList, bool, error) {
	in := &core.Service{}
	if err := upstream(&corev1.Service{ObjectMeta: svc.ObjectMeta, Spec: svc.Spec}, in); err != nil {
		return nil, true, err
	}
	if old == nil {
		if in.Spec.ClusterIP != "" && len(in.Spec.ClusterIPs) == 0 {
			in.Spec.ClusterIPs = []string{in.Spec.ClusterIP}
		}
		return corevalidation.ValidateServiceCreate(in), true, nil
	}
	p := old.(*corev1alpha1.Service)
	oldIn := &core.Service{}
	if err := upstream(&corev1.Service{ObjectMeta: p.ObjectMeta, Spec: p.Spec}, oldIn); err != nil {
		return nil, true, err
	}
	followClusterIP(in, oldIn)
	dropLeftTypeFields(in, oldIn)
	return corevalidation.ValidateServiceUpdate(in, oldIn), true, nil
}

// followClusterIP keeps clusterIPs in step with a clusterIP an update changed or cleared
// while leaving clusterIPs as it was, as an older client does.
func followClusterIP(in, old *core.Service) {
	if len(in.Spec.ClusterIPs) == 0 && len(old.Spec.ClusterIPs) > 0 && in.Spec.ClusterIP == old.Spec.ClusterIP {
		in.Spec.ClusterIPs = old.Spec.ClusterIPs
	}
	if in.Spec.ClusterIP == old.Spec.ClusterIP || !slices.Equal(in.Spec.ClusterIPs, old.Spec.ClusterIPs) {
		return
	}
	if in.Spec.ClusterIP == "" {
		in.Spec.ClusterIPs = nil
	} else {
		in.Spec.ClusterIPs = []string{in.Spec.ClusterIP}
	}
}

// dropLeftTypeFields clears what a Service leaving a type no longer uses, when the update
// did not also change it (a change is the user's, and validation judges it).
func dropLeftTypeFields(in, old *core.Service) {
	if needsClusterIP(old) && !needsClusterIP(in) {
		if in.Spec.ClusterIP == old.Spec.ClusterIP && slices.Equal(in.Spec.ClusterIPs, old.Spec.ClusterIPs) {
			in.Spec.ClusterIP, in.Spec.ClusterIPs = "", nil
		}
		if slices.Equal(in.Spec.IPFamilies, old.Spec.IPFamilies) {
			in.Spec.IPFamilies = nil
		}
		if policy(in) == policy(old) {
			in.Spec.IPFamilyPolicy = nil
		}
	}
	if needsNodePorts(old) && !needsNodePorts(in) && sameNodePorts(in, old) {
		for i := range in.Spec.Ports {
			in.Spec.Ports[i].NodePort = 0
		}
	}
	if old.Spec.Type == core.ServiceTypeLoadBalancer && in.Spec.Type != core.ServiceTypeLoadBalancer {
		if in.Spec.HealthCheckNodePort == old.Spec.HealthCheckNodePort {
			in.Spec.HealthCheckNodePort = 0
		}
		if a, b := in.Spec.AllocateLoadBalancerNodePorts, old.Spec.AllocateLoadBalancerNodePorts; a != nil && b != nil && *a == *b {
			in.Spec.AllocateLoadBalancerNodePorts = nil
		}
		if in.Spec.LoadBalancerClass != nil && old.Spec.LoadBalancerClass != nil && *in.Spec.LoadBalancerClass == *old.Spec.LoadBalancerClass {
			in.Spec.LoadBalancerClass = nil
		}
	}
	if apiservice.ExternallyAccessible(old) && !apiservice.ExternallyAccessible(in) && in.Spec.ExternalTrafficPolicy == old.Spec.ExternalTrafficPolicy {
		in.Spec.ExternalTrafficPolicy = ""
	}
}

func needsClusterIP(svc *core.Service) bool { return svc.Spec.Type != core.ServiceTypeExternalName }

func needsNodePorts(svc *core.Service) bool {
	return svc.Spec.Type == core.ServiceTypeNodePort || svc.Spec.Type == core.ServiceTypeLoadBalancer
}

func policy(svc *core.Service) core.IPFamilyPolicy {
	if svc.Spec.IPFamilyPolicy == nil {
		return ""
	}
	return *svc.Spec.IPFamilyPolicy
}

func sameNodePorts(a, b *core.Service) bool {
	ports := func(svc *core.Service) map[int32]bool {
		out := map[int32]bool{}
		for _, p := range svc.Spec.Ports {
			if p.NodePort != 0 {
				out[p.NodePort] = true
			}
		}
		return out
	}
	pa, pb := ports(a), ports(b)
	if len(pa) != len(pb) {
		return false
	}
	for p := range pa {
		if !pb[p] {
			return false
		}
	}
	return true
}

// validateEndpointSlice judges a slice as discovery/v1's: addresses of its addressType,
// port names and protocols, at most 1000 endpoints.
func validateEndpointSlice(eps *corev1alpha1.EndpointSlice, old runtime.Object) (field.ErrorList, bool, error) {
	ext := func(s *corev1alpha1.EndpointSlice) runtime.Object {
		return &discoveryv1.EndpointSlice{ObjectMeta: s.ObjectMeta, AddressType: s.AddressType, Endpoints: s.Endpoints, Ports: s.Ports}
	}
	in := &discovery.EndpointSlice{}
	if err := upstream(ext(eps), in); err != nil {
		return nil, true, err
	}
	if old == nil {
		return discoveryvalidation.ValidateEndpointSliceCreate(in), true, nil
	}
	oldIn := &discovery.EndpointSlice{}
	if err := upstream(ext(old.(*corev1alpha1.EndpointSlice)), oldIn); err != nil {
		return nil, true, err
	}
	return discoveryvalidation.ValidateEndpointSliceUpdate(in, oldIn), true, nil
}

// validateNode judges a Node's metadata and spec (taints, podCIDRs, providerID); its
// status is written through the status subresource, which admission does not see here.
func validateNode(node *corev1alpha1.Node, old runtime.Object) (field.ErrorList, bool, error) {
	in := &core.Node{}
	if err := upstream(&corev1.Node{ObjectMeta: node.ObjectMeta, Spec: node.Spec}, in); err != nil {
		return nil, true, err
	}
	errs := corevalidation.ValidateNode(in)
	// Upstream stores podCIDR as podCIDRs[0], whichever the request set; kybern stores the
	// request as it is, so the two must agree.
	if cidrs := node.Spec.PodCIDRs; len(cidrs) > 0 && cidrs[0] != node.Spec.PodCIDR {
		errs = append(errs, field.Invalid(field.NewPath("spec", "podCIDRs").Index(0), cidrs[0],
			"must match spec.podCIDR: set both to the same CIDR, or leave podCIDRs out"))
	}
	if old == nil {
		return errs, true, nil
	}
	p := old.(*corev1alpha1.Node)
	oldIn := &core.Node{}
	if err := upstream(&corev1.Node{ObjectMeta: p.ObjectMeta, Spec: p.Spec}, oldIn); err != nil {
		return nil, true, err
	}
	return append(errs, corevalidation.ValidateNodeUpdate(in, oldIn)...), true, nil
}
