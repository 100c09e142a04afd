package endpoints

import (
	"net/netip"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
	"github.com/kybern/kybern/controllers/internal/podutil"
)

// group is the endpoints that expose the same resolved ports.
type group struct {
	ports     []discoveryv1.EndpointPort
	endpoints []discoveryv1.Endpoint
}

// desiredGroups is the endpoints of svc's pods, by the key of their ports, in pod-name
// order.
func desiredGroups(svc *corev1alpha1.Service, pods []*corev1alpha1.Pod) map[string]*group {
	pods = slices.Clone(pods)
	slices.SortFunc(pods, func(a, b *corev1alpha1.Pod) int { return strings.Compare(a.Name, b.Name) })
	groups := map[string]*group{}
	for _, pod := range pods {
		ep, ok := endpointFor(svc, pod)
		if !ok {
			continue
		}
		ports := portsFor(svc, pod)
		key := portsKey(ports)
		g := groups[key]
		if g == nil {
			g = &group{ports: ports}
			groups[key] = g
		}
		g.endpoints = append(g.endpoints, ep)
	}
	return groups
}

// endpointFor is pod's endpoint in svc's slices; ok is false for a pod that has none: one
// without an IPv4 address or one that has terminated.
func endpointFor(svc *corev1alpha1.Service, pod *corev1alpha1.Pod) (discoveryv1.Endpoint, bool) {
	addr := ipv4Of(pod)
	if addr == "" || pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
		return discoveryv1.Endpoint{}, false
	}
	serving := podutil.IsReady(pod)
	terminating := pod.DeletionTimestamp != nil
	ep := discoveryv1.Endpoint{
		Addresses: []string{addr},
		Conditions: discoveryv1.EndpointConditions{
			Ready:       ptr.To(svc.Spec.PublishNotReadyAddresses || serving && !terminating),
			Serving:     ptr.To(serving),
			Terminating: ptr.To(terminating),
		},
		TargetRef: &corev1.ObjectReference{APIVersion: corev1alpha1.GroupVersion.String(), Kind: "Pod",
			Namespace: pod.Namespace, Name: pod.Name, UID: pod.UID},
	}
	if pod.Spec.NodeName != "" {
		ep.NodeName = ptr.To(pod.Spec.NodeName)
	}
	if pod.Spec.Hostname != "" && pod.Spec.Subdomain == svc.Name && pod.Namespace == svc.Namespace {
		ep.Hostname = ptr.To(pod.Spec.Hostname)
	}
	return ep, true
}

// ipv4Of is the pod's IPv4 address, or "".
func ipv4Of(pod *corev1alpha1.Pod) string {
	candidates := []string{pod.Status.PodIP}
	for _, ip := range pod.Status.PodIPs {
		candidates = append(candidates, ip.IP)
	}
	for _, c := range candidates {
		if ip, err := netip.ParseAddr(c); err == nil && ip.Is4() {
			return ip.String()
		}
	}
	return ""
}

// portsFor resolves svc's ports on pod, in svc's order, leaving out each port whose named
// targetPort no container of the pod declares for its protocol.
func portsFor(svc *corev1alpha1.Service, pod *corev1alpha1.Pod) []discoveryv1.EndpointPort {
	out := []discoveryv1.EndpointPort{}
	for _, sp := range svc.Spec.Ports {
		port, ok := targetPort(sp, pod)
		if !ok {
			continue
		}
		out = append(out, discoveryv1.EndpointPort{Name: ptr.To(sp.Name), Port: ptr.To(port),
			Protocol: ptr.To(protocolOf(sp.Protocol)), AppProtocol: sp.AppProtocol})
	}
	return out
}

func targetPort(sp corev1.ServicePort, pod *corev1alpha1.Pod) (int32, bool) {
	switch {
	case sp.TargetPort.Type == intstr.String && sp.TargetPort.StrVal != "":
		for _, c := range pod.Spec.Containers {
			for _, cp := range c.Ports {
				if cp.Name == sp.TargetPort.StrVal && protocolOf(cp.Protocol) == protocolOf(sp.Protocol) {
					return cp.ContainerPort, true
				}
			}
		}
		return 0, false
	case sp.TargetPort.IntVal != 0:
		return sp.TargetPort.IntVal, true
	default:
		// Not defaulted yet by the service controller: upstream's default is the port.
		return sp.Port, true
	}
}

// protocolOf is p, or TCP for a protocol left unset.
func protocolOf(p corev1.Protocol) corev1.Protocol {
	if p == "" {
		return corev1.ProtocolTCP
	}
	return p
}

// portsKey identifies a list of resolved ports.
func portsKey(ports []discoveryv1.EndpointPort) string {
	parts := make([]string, len(ports))
	for i, p := range ports {
		parts[i] = ptr.Deref(p.Name, "") + "/" + string(ptr.Deref(p.Protocol, "")) + "/" + strconv.Itoa(int(ptr.Deref(p.Port, 0)))
	}
	return strings.Join(parts, ",")
}
