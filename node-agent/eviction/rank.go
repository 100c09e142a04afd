package eviction

import (
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/types"

	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
)

// PodUsage is what one pod uses of what eviction ranks by.
type PodUsage struct {
	// Memory is the working set of the pod's running containers.
	Memory int64
	// ContainerMemory is each running container's working set, by name.
	ContainerMemory map[string]int64
	// EmptyDirs are the bytes in each of the pod's disk-backed emptyDir volumes, by name.
	EmptyDirs map[string]int64
	// Logs are the bytes of each container's logs, by name.
	Logs map[string]int64
	// Inodes are the inodes the emptyDirs and logs hold.
	Inodes int64
}

// Disk is the pod's ephemeral-storage usage: its disk-backed emptyDirs and its logs. The
// containers' writable layers are not measured.
func (u PodUsage) Disk() int64 {
	var n int64
	for _, b := range u.EmptyDirs {
		n += b
	}
	for _, b := range u.Logs {
		n += b
	}
	return n
}

// of is the pod's usage of res.
func (u PodUsage) of(res corev1.ResourceName) int64 {
	switch res {
	case corev1.ResourceMemory:
		return u.Memory
	case corev1.ResourceEphemeralStorage:
		return u.Disk()
	case resourceInodes:
		return u.Inodes
	}
	return 0
}

// podRequest is what pod requests of res, as upstream counts a pod's requests: the sum
// of its containers', or the largest init container's if that is more.
func podRequest(pod *corev1alpha1.Pod, res corev1.ResourceName) int64 {
	var sum, initMax int64
	for _, c := range pod.Spec.Containers {
		if q, ok := c.Resources.Requests[res]; ok {
			sum += q.Value()
		}
	}
	for _, c := range pod.Spec.InitContainers {
		if q, ok := c.Resources.Requests[res]; ok {
			initMax = max(initMax, q.Value())
		}
	}
	return max(sum, initMax)
}

func priority(pod *corev1alpha1.Pod) int32 {
	if pod.Spec.Priority != nil {
		return *pod.Spec.Priority
	}
	return 0
}

// rank orders pods for eviction under pressure on res, as upstream's kubelet: first the
// pods using more than they request (pods with no measurement before all), then lower
// priority first, then the most usage above requests first.
func rank(pods []*corev1alpha1.Pod, usage map[types.UID]PodUsage, res corev1.ResourceName) {
	sort.SliceStable(pods, func(i, j int) bool {
		pi, pj := pods[i], pods[j]
		ui, iFound := usage[pi.UID]
		uj, jFound := usage[pj.UID]
		if iFound != jFound {
			return !iFound
		}
		overI, overJ := ui.of(res)-podRequest(pi, res), uj.of(res)-podRequest(pj, res)
		if (overI > 0) != (overJ > 0) {
			return overI > 0
		}
		if priority(pi) != priority(pj) {
			return priority(pi) < priority(pj)
		}
		return overI > overJ
	})
}

// systemCriticalPriority is upstream's lowest system-critical priority: pods at or
// above it, as static pods, are never evicted for node pressure.
const systemCriticalPriority = 2_000_000_000

func critical(pod *corev1alpha1.Pod) bool { return priority(pod) >= systemCriticalPriority }

// signalOrder is which crossed threshold eviction acts on first: memory, as upstream.
func signalOrder(s Signal) int {
	return map[Signal]int{MemoryAvailable: 0, NodeFsAvailable: 1, NodeFsInodesFree: 2, ImageFsAvailable: 3, ImageFsInodesFree: 4, PIDAvailable: 5}[s]
}

// nodeLowMessage is the evicted pod's message, in upstream's words: the resource, the
// threshold, what is available, and each container that uses more than it requests.
func nodeLowMessage(pod *corev1alpha1.Pod, u PodUsage, t Threshold, o Observation) string {
	res := signals[t.Signal].resource
	var b strings.Builder
	fmt.Fprintf(&b, "The node was low on resource: %s. Threshold quantity: %s, available: %s. ", res,
		quantity(t.Value(o.Capacity), res).String(), quantity(o.Available, res).String())
	for _, c := range pod.Spec.Containers {
		var used int64
		switch res {
		case corev1.ResourceMemory:
			used = u.ContainerMemory[c.Name]
		case corev1.ResourceEphemeralStorage:
			used = u.Logs[c.Name]
		default:
			continue
		}
		req := c.Resources.Requests[res]
		if used > req.Value() {
			fmt.Fprintf(&b, "Container %s was using %s, request is %s, has larger consumption of %s. ", c.Name, quantity(used, res).String(), req.String(), res)
		}
	}
	return b.String()
}

func quantity(v int64, res corev1.ResourceName) *resource.Quantity {
	if res == corev1.ResourceMemory || res == corev1.ResourceEphemeralStorage {
		return resource.NewQuantity(v, resource.BinarySI)
	}
	return resource.NewQuantity(v, resource.DecimalSI)
}

// localStorageViolation is why pod must go for exceeding its own ephemeral-storage
// limits, as upstream's localStorageEviction checks them in turn: an emptyDir over its
// sizeLimit, the pod over its containers' total limit, a container over its own; "" if
// none.
func localStorageViolation(pod *corev1alpha1.Pod, u PodUsage) string {
	for _, v := range pod.Spec.Volumes {
		if v.EmptyDir == nil || v.EmptyDir.SizeLimit == nil || v.EmptyDir.Medium == corev1.StorageMediumMemory {
			continue
		}
		if used, ok := u.EmptyDirs[v.Name]; ok && used > v.EmptyDir.SizeLimit.Value() {
			return fmt.Sprintf("Usage of EmptyDir volume %q exceeds the limit %q. ", v.Name, v.EmptyDir.SizeLimit.String())
		}
	}
	var limit resource.Quantity
	limited := false
	for _, c := range pod.Spec.Containers {
		if q, ok := c.Resources.Limits[corev1.ResourceEphemeralStorage]; ok {
			limit.Add(q)
			limited = true
		}
	}
	if limited && u.Disk() > limit.Value() {
		return fmt.Sprintf("Pod ephemeral local storage usage exceeds the total limit of containers %s. ", limit.String())
	}
	for _, c := range pod.Spec.Containers {
		if q, ok := c.Resources.Limits[corev1.ResourceEphemeralStorage]; ok && u.Logs[c.Name] > q.Value() {
			return fmt.Sprintf("Container %s exceeded its local ephemeral storage limit %q. ", c.Name, q.String())
		}
	}
	return ""
}
