package events

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"

	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
)

// The reasons of the agent's events, upstream's kubelet's (pkg/kubelet/events/event.go).
const (
	Created                = "Created"
	Started                = "Started"
	Failed                 = "Failed"
	Killing                = "Killing"
	BackOff                = "BackOff"
	Pulling                = "Pulling"
	Pulled                 = "Pulled"
	InspectFailed          = "InspectFailed"
	ErrImageNeverPull      = "ErrImageNeverPull"
	FailedMount            = "FailedMount"
	FailedCreatePodSandBox = "FailedCreatePodSandBox"
	Unhealthy              = "Unhealthy"
	FailedSync             = "FailedSync"
	FailedPostStartHook    = "FailedPostStartHook"
	FailedPreStopHook      = "FailedPreStopHook"
	// DeadlineExceeded is the reason of the kubelet's event for a pod stopped past its
	// activeDeadlineSeconds, which its status also says.
	DeadlineExceeded = "DeadlineExceeded"
)

// PodRef is the involvedObject of an event about pod: the core.kybern.io Pod itself.
func PodRef(pod *corev1alpha1.Pod) *corev1.ObjectReference {
	return &corev1.ObjectReference{APIVersion: corev1alpha1.GroupVersion.String(), Kind: "Pod", Namespace: pod.Namespace, Name: pod.Name,
		UID: pod.UID, ResourceVersion: pod.ResourceVersion}
}

// ContainerRef is the involvedObject of an event about one container of pod, as the
// kubelet's: the pod, with the container's field path (spec.containers{web}). A name the
// spec does not hold gives the pod's reference.
func ContainerRef(pod *corev1alpha1.Pod, container string) *corev1.ObjectReference {
	ref := PodRef(pod)
	for field, list := range map[string][]corev1.Container{"spec.containers": pod.Spec.Containers, "spec.initContainers": pod.Spec.InitContainers} {
		for _, c := range list {
			if c.Name == container {
				ref.FieldPath = fmt.Sprintf("%s{%s}", field, container)
			}
		}
	}
	return ref
}
