package service

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"

	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
)

// allocations is what every Service holds of the service CIDR and the node-port range. It
// lives in memory only: rebuilt from the Services in the cache when the controller starts,
// then kept by the Reconciler, which serialises every call.
type allocations struct {
	ips       ipRange
	ports     portRange
	ipAlloc   *rangeAllocator
	portAlloc *rangeAllocator
	held      map[string]holding
	// failed are the Services that did not get all they asked for; a release retries them.
	failed map[string]bool
}

// holding is what one Service holds; ip is -1 for none.
type holding struct {
	uid   types.UID
	ip    int
	ports []int
}

// failure is why a Service did not get an address or a node port: a condition reason and
// a message that names the field and the fix.
type failure struct {
	reason  string
	message string
}

// result is what apply decided for one Service. A nil condition does not apply to the
// Service (headless, ExternalName, no node ports); a nil failure in an applying one means
// it got everything.
type result struct {
	ipApplies, portsApply bool
	ipFailure             *failure
	portFailure           *failure
	// freed is whether the Service let go of an address or a port.
	freed bool
}

func newAllocations(ips ipRange, ports portRange) *allocations {
	return &allocations{ips: ips, ports: ports, ipAlloc: newRangeAllocator(ips.size),
		portAlloc: newRangeAllocator(ports.Size), held: map[string]holding{}, failed: map[string]bool{}}
}

// observe records what each Service's spec already holds, ignoring conflicts: Services
// without a failed allocation condition go first, then the oldest, so that the owner of a
// contested address or port stays the one that had it before a restart.
func (a *allocations) observe(svcs []*corev1alpha1.Service) {
	slices.SortStableFunc(svcs, func(x, y *corev1alpha1.Service) int {
		return cmp.Or(cmp.Compare(hasFailed(x), hasFailed(y)),
			x.CreationTimestamp.Compare(y.CreationTimestamp.Time),
			cmp.Compare(x.Namespace+"/"+x.Name, y.Namespace+"/"+y.Name))
	})
	for _, svc := range svcs {
		key, h := keyOf(svc), holding{uid: svc.UID, ip: -1}
		if ip, err := netip.ParseAddr(svc.Spec.ClusterIP); err == nil && svc.Spec.Type != corev1.ServiceTypeExternalName {
			if off, ok := a.ips.offset(ip); ok {
				if _, ok := a.ipAlloc.assign(off, key); ok {
					h.ip = off
				}
			}
		}
		if needsNodePorts(svc) {
			for _, p := range svc.Spec.Ports {
				if off, ok := a.ports.offset(p.NodePort); ok {
					if _, ok := a.portAlloc.assign(off, key); ok {
						h.ports = append(h.ports, off)
					}
				}
			}
		}
		a.held[key] = h
	}
}

func hasFailed(svc *corev1alpha1.Service) int {
	for _, t := range []string{corev1alpha1.ServiceClusterIPAllocated, corev1alpha1.ServiceNodePortAllocated} {
		if apimeta.IsStatusConditionFalse(svc.Status.Conditions, t) {
			return 1
		}
	}
	return 0
}

func keyOf(svc *corev1alpha1.Service) string { return svc.Namespace + "/" + svc.Name }

func needsNodePorts(svc *corev1alpha1.Service) bool {
	return svc.Spec.Type == corev1.ServiceTypeNodePort || svc.Spec.Type == corev1.ServiceTypeLoadBalancer
}

// apply gives svc what its spec asks for, writing upstream's defaults and what was
// allocated into svc.Spec, and frees what it held but no longer asks for.
func (a *allocations) apply(svc *corev1alpha1.Service) result {
	key := keyOf(svc)
	if h, ok := a.held[key]; ok && h.uid != svc.UID {
		a.release(key)
	}
	old, ok := a.held[key]
	if !ok {
		old = holding{uid: svc.UID, ip: -1}
	}
	defaultTargetPorts(svc.Spec.Ports)
	var res result
	h := holding{uid: svc.UID, ip: -1}
	if svc.Spec.Type != corev1.ServiceTypeExternalName {
		res.ipApplies = svc.Spec.ClusterIP != corev1.ClusterIPNone
		h.ip, res.ipFailure = a.clusterIP(key, svc, old.ip)
	}
	if res.portsApply = needsNodePorts(svc); res.portsApply {
		h.ports, res.portFailure = a.nodePorts(key, svc, old.ports)
	} else {
		for i := range svc.Spec.Ports {
			svc.Spec.Ports[i].NodePort = 0
		}
	}
	if old.ip >= 0 && old.ip != h.ip {
		a.ipAlloc.release(old.ip, key)
		res.freed = true
	}
	for _, off := range old.ports {
		if !slices.Contains(h.ports, off) {
			a.portAlloc.release(off, key)
			res.freed = true
		}
	}
	a.held[key] = h
	a.failed[key] = res.ipFailure != nil || res.portFailure != nil
	return res
}

// release frees all key held and returns the Services that wait for something to be
// freed.
func (a *allocations) release(key string) []string {
	if h, ok := a.held[key]; ok {
		if h.ip >= 0 {
			a.ipAlloc.release(h.ip, key)
		}
		for _, off := range h.ports {
			a.portAlloc.release(off, key)
		}
	}
	delete(a.held, key)
	delete(a.failed, key)
	return a.waiting()
}

// waiting is the Services that did not get all they asked for.
func (a *allocations) waiting() []string {
	var out []string
	for k, failed := range a.failed {
		if failed {
			out = append(out, k)
		}
	}
	return out
}

// clusterIP gives svc the address it asks for, or, when it asks for none, the one it
// held (an earlier write that the cache has not shown yet) or the next free one. A
// headless Service gets upstream's defaults and nothing else.
func (a *allocations) clusterIP(key string, svc *corev1alpha1.Service, held int) (int, *failure) {
	spec := &svc.Spec
	requested := spec.ClusterIP
	if requested == "" && len(spec.ClusterIPs) > 0 {
		requested = spec.ClusterIPs[0]
	}
	if requested == corev1.ClusterIPNone {
		setIPDefaults(spec, corev1.ClusterIPNone)
		return -1, nil
	}
	off, f := a.pickIP(key, requested, held)
	if f != nil {
		return -1, f
	}
	setIPDefaults(spec, a.ips.addr(off).String())
	return off, nil
}

func (a *allocations) pickIP(key, requested string, held int) (int, *failure) {
	recreate := "delete the Service and create it again without spec.clusterIP, or with a free address in the range"
	if requested == "" {
		if held >= 0 {
			return held, nil
		}
		off, err := a.ipAlloc.next(key, 1, staticBand(a.ips.size, 16, 256))
		if err != nil {
			return -1, &failure{ReasonRangeFull, fmt.Sprintf("Service %s: no address is free for spec.clusterIP in the service range %s; "+
				"widen the manager's --service-cluster-ip-range or delete Services that are no longer used", key, a.ips.prefix)}
		}
		return off, nil
	}
	ip, err := netip.ParseAddr(requested)
	if err != nil || !ip.Is4() {
		return -1, &failure{ReasonInvalid, fmt.Sprintf("Service %s: spec.clusterIP %q is not an IPv4 address; %s", key, requested, recreate)}
	}
	off, ok := a.ips.offset(ip)
	if !ok {
		return -1, &failure{ReasonOutOfRange, fmt.Sprintf("Service %s: spec.clusterIP %s is not in the service range %s (--service-cluster-ip-range); %s",
			key, ip, a.ips.prefix, recreate)}
	}
	if other, ok := a.ipAlloc.assign(off, key); !ok {
		return -1, &failure{ReasonAlreadyAllocated, fmt.Sprintf("Service %s: spec.clusterIP %s is already allocated to Service %s; %s",
			key, ip, other, recreate)}
	}
	return off, nil
}

// setIPDefaults writes ip and upstream's single-stack IPv4 defaults into spec.
func setIPDefaults(spec *corev1.ServiceSpec, ip string) {
	spec.ClusterIP = ip
	spec.ClusterIPs = []string{ip}
	if len(spec.IPFamilies) == 0 {
		spec.IPFamilies = []corev1.IPFamily{corev1.IPv4Protocol}
	}
	if spec.IPFamilyPolicy == nil {
		policy := corev1.IPFamilyPolicySingleStack
		spec.IPFamilyPolicy = &policy
	}
}

// nodePorts gives each port of svc the node port it asks for and then, to ports that ask
// for none, one svc held or the next free one. A LoadBalancer with
// allocateLoadBalancerNodePorts false gets only the ports it asks for. Ports that fail
// are all named in one failure.
func (a *allocations) nodePorts(key string, svc *corev1alpha1.Service, held []int) ([]int, *failure) {
	var got []int
	var problems []string
	var unset []int
	reason := ReasonAlreadyAllocated
	for i := range svc.Spec.Ports {
		p := &svc.Spec.Ports[i]
		if p.NodePort == 0 {
			unset = append(unset, i)
			continue
		}
		off, ok := a.ports.offset(p.NodePort)
		if !ok {
			reason = ReasonOutOfRange
			problems = append(problems, fmt.Sprintf("spec.ports[%d].nodePort %d is not in the node port range %s (--service-node-port-range)", i, p.NodePort, a.ports.String()))
			continue
		}
		if other, ok := a.portAlloc.assign(off, key); !ok {
			problems = append(problems, fmt.Sprintf("spec.ports[%d].nodePort %d is already allocated to Service %s", i, p.NodePort, other))
			continue
		}
		got = append(got, off)
	}
	full := false
	if svc.Spec.Type == corev1.ServiceTypeNodePort || svc.Spec.AllocateLoadBalancerNodePorts == nil || *svc.Spec.AllocateLoadBalancerNodePorts {
		spare := slices.DeleteFunc(slices.Clone(held), func(off int) bool { return slices.Contains(got, off) })
		for _, i := range unset {
			var off int
			if len(spare) > 0 {
				off, spare = spare[0], spare[1:]
			} else {
				var err error
				if off, err = a.portAlloc.next(key, 0, staticBand(a.ports.Size, 32, 128)); err != nil {
					full = true
					continue
				}
			}
			svc.Spec.Ports[i].NodePort = a.ports.port(off)
			got = append(got, off)
		}
	}
	switch {
	case len(problems) > 0:
		return got, &failure{reason, fmt.Sprintf("Service %s: %s; set a free nodePort in the range or leave it unset to have one allocated",
			key, strings.Join(problems, ", "))}
	case full:
		return got, &failure{ReasonRangeFull, fmt.Sprintf("Service %s: no node port is free in the range %s for spec.ports[].nodePort; "+
			"widen the manager's --service-node-port-range or delete NodePort Services that are no longer used", key, a.ports.String())}
	}
	return got, nil
}

// defaultTargetPorts sets each port's unset targetPort to its port, as upstream.
func defaultTargetPorts(ports []corev1.ServicePort) {
	for i := range ports {
		if ports[i].TargetPort == (intstr.IntOrString{}) {
			ports[i].TargetPort = intstr.FromInt32(ports[i].Port)
		}
	}
}
