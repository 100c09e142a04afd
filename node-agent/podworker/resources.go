package podworker

import (
	corev1 "k8s.io/api/core/v1"

	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
	"github.com/kybern/kybern/node-agent/runtime"
)

// The kubelet's CPU arithmetic: 1024 shares per CPU, at least 2; a 100 ms CFS period, and a
// quota of at least 1 ms.
const (
	sharesPerCPU  = 1024
	minShares     = 2
	cfsPeriod     = 100000
	minQuota      = 1000
	guaranteedOOM = -997
	bestEffortOOM = 1000
)

// containerResources derives c's cgroup settings from its requests and limits as
// upstream's kubelet does. A limit without a request stands for the request too, as the
// apiserver defaults it. nodeMemory is the node's memory capacity in bytes, against which
// a Burstable container's OOM score is scaled.
//
// With requests.cpu 250m and limits.cpu 500m: shares 250*1024/1000 = 256, quota
// 500*100000/1000 = 50000 µs per 100000 µs.
func containerResources(pod *corev1alpha1.Pod, c *corev1.Container, nodeMemory int64) runtime.Resources {
	var r runtime.Resources
	cpuRequest, hasRequest := c.Resources.Requests[corev1.ResourceCPU]
	cpuLimit, hasLimit := c.Resources.Limits[corev1.ResourceCPU]
	if !hasRequest && hasLimit {
		cpuRequest = cpuLimit
	}
	r.CPUShares = max(uint64(cpuRequest.MilliValue())*sharesPerCPU/1000, minShares)
	if hasLimit {
		r.CPUQuota, r.CPUPeriod = max(cpuLimit.MilliValue()*cfsPeriod/1000, minQuota), cfsPeriod
	}
	if m, ok := c.Resources.Limits[corev1.ResourceMemory]; ok {
		r.MemoryLimit = m.Value()
	}
	r.OOMScoreAdj = oomScoreAdj(pod, c, nodeMemory)
	return r
}

// oomScoreAdj ranks c for the kernel's OOM killer by its pod's QoS class, as the kubelet
// does: Guaranteed last, BestEffort first, Burstable by how much of the node's memory it
// requests (a container requesting half the node gets 1000 - 1000/2 = 500), kept between 3,
// above any Guaranteed container, and 999, below BestEffort.
func oomScoreAdj(pod *corev1alpha1.Pod, c *corev1.Container, nodeMemory int64) int {
	switch qosClass(pod) {
	case corev1.PodQOSGuaranteed:
		return guaranteedOOM
	case corev1.PodQOSBestEffort:
		return bestEffortOOM
	}
	request := c.Resources.Requests.Memory().Value()
	if request == 0 {
		request = c.Resources.Limits.Memory().Value()
	}
	if nodeMemory <= 0 {
		return 999
	}
	adj := 1000 - int(1000*request/nodeMemory)
	return min(max(adj, 1000+guaranteedOOM), bestEffortOOM-1)
}

// containerSecurity merges c's securityContext over its pod's, as upstream does.
func containerSecurity(pod *corev1alpha1.Pod, c *corev1.Container) runtime.Security {
	var s runtime.Security
	if psc := pod.Spec.SecurityContext; psc != nil {
		s.RunAsUser, s.RunAsGroup = psc.RunAsUser, psc.RunAsGroup
		s.RunAsNonRoot = psc.RunAsNonRoot != nil && *psc.RunAsNonRoot
		// The pod's fsGroup owns its volumes: every container is in it, as upstream's.
		s.SupplementalGroups = append(s.SupplementalGroups, psc.SupplementalGroups...)
		if psc.FSGroup != nil {
			s.SupplementalGroups = append(s.SupplementalGroups, *psc.FSGroup)
		}
		s.SeccompRuntimeDefault = psc.SeccompProfile != nil && psc.SeccompProfile.Type == corev1.SeccompProfileTypeRuntimeDefault
	}
	sc := c.SecurityContext
	if sc == nil {
		return s
	}
	if sc.RunAsUser != nil {
		s.RunAsUser = sc.RunAsUser
	}
	if sc.RunAsGroup != nil {
		s.RunAsGroup = sc.RunAsGroup
	}
	if sc.RunAsNonRoot != nil {
		s.RunAsNonRoot = *sc.RunAsNonRoot
	}
	if sc.SeccompProfile != nil {
		s.SeccompRuntimeDefault = sc.SeccompProfile.Type == corev1.SeccompProfileTypeRuntimeDefault
	}
	s.ReadOnlyRootFS = sc.ReadOnlyRootFilesystem != nil && *sc.ReadOnlyRootFilesystem
	s.Privileged = sc.Privileged != nil && *sc.Privileged
	if sc.Capabilities != nil {
		for _, c := range sc.Capabilities.Add {
			s.AddCapabilities = append(s.AddCapabilities, string(c))
		}
		for _, c := range sc.Capabilities.Drop {
			s.DropCapabilities = append(s.DropCapabilities, string(c))
		}
	}
	return s
}
