package podworker

import (
	"fmt"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
	"github.com/kybern/kybern/node-agent/runtime"
)

// Waiting reasons, as upstream's kubelet reports them.
const (
	ReasonContainerCreating        = "ContainerCreating"
	ReasonPodInitializing          = "PodInitializing"
	ReasonCrashLoopBackOff         = "CrashLoopBackOff"
	ReasonErrImagePull             = "ErrImagePull"
	ReasonImagePullBackOff         = "ImagePullBackOff"
	ReasonErrImageNeverPull        = "ErrImageNeverPull"
	ReasonCreateContainerErr       = "CreateContainerError"
	ReasonCreateContainerConfigErr = "CreateContainerConfigError"
)

// reason is why a container is not running, for its waiting state.
type reason struct{ reason, message string }

// observed is what one sync saw of a pod: the input to its status.
type observed struct {
	sandboxReady bool
	// containers are the pod's containers by name, newest attempt first.
	containers map[string][]runtime.Container
	// waiting says why a container that is not running waits, by name.
	waiting map[string]reason
	// terminated is set once the pod was stopped for good (deleted); its phase is then
	// Succeeded or Failed by how its containers exited.
	terminated  bool
	runtimeName string
	hostIP      string
	startTime   time.Time
	now         time.Time
	// probes says which running instances have started and are ready; nil when no probe
	// ran, and then every running instance is both.
	probes probeResults
	// killed says why the agent stopped an instance, by ID, such as a failed liveness
	// probe; it becomes that instance's termination message.
	killed map[string]string
	// pastDeadline: the pod was stopped for running past its activeDeadlineSeconds.
	pastDeadline bool
	// rejected: the agent refused to run the pod, and why.
	rejected string
	podIPs   []string
}

// probeResults are the results of a pod's probes, by container instance.
type probeResults interface {
	Started(id string, c *corev1.Container) bool
	Ready(id string, c *corev1.Container) bool
}

// podStatus is the pod's status as upstream's kubelet reports it, from what the sync saw.
// Conditions keep their transition times while their status holds.
func podStatus(pod *corev1alpha1.Pod, o observed) corev1.PodStatus {
	s := corev1.PodStatus{HostIP: o.hostIP, StartTime: &metav1.Time{Time: o.startTime}}
	if o.hostIP != "" {
		s.HostIPs = []corev1.HostIP{{IP: o.hostIP}}
	}
	for i, ip := range o.podIPs {
		if i == 0 {
			s.PodIP = ip
		}
		s.PodIPs = append(s.PodIPs, corev1.PodIP{IP: ip})
	}
	s.InitContainerStatuses = containerStatuses(pod.Spec.InitContainers, o, true, ReasonContainerCreating)
	// Upstream's kubelet: a container not created yet is PodInitializing in a pod with
	// init containers, whether they have finished or not, and ContainerCreating otherwise.
	notCreated := ReasonContainerCreating
	if len(pod.Spec.InitContainers) > 0 {
		notCreated = ReasonPodInitializing
	}
	s.ContainerStatuses = containerStatuses(pod.Spec.Containers, o, false, notCreated)
	s.Phase = phase(pod, s, o.terminated)
	if o.pastDeadline {
		s.Phase, s.Reason, s.Message = corev1.PodFailed, "DeadlineExceeded", "Pod was active on the node longer than the specified deadline"
	}
	if o.rejected != "" {
		s.Phase, s.Reason, s.Message = corev1.PodFailed, ReasonRejected, o.rejected
	}
	s.QOSClass = qosClass(pod)

	var incompleteInit, unready []string
	for i, cs := range s.InitContainerStatuses {
		if isSidecar(&pod.Spec.InitContainers[i]) {
			// A sidecar is done initializing once it has started; its readiness counts
			// toward the pod's, as a main container's.
			if cs.State.Running == nil || cs.Started == nil || !*cs.Started {
				incompleteInit = append(incompleteInit, cs.Name)
			}
			if !cs.Ready {
				unready = append(unready, cs.Name)
			}
			continue
		}
		if cs.State.Terminated == nil || cs.State.Terminated.ExitCode != 0 {
			incompleteInit = append(incompleteInit, cs.Name)
		}
	}
	for _, cs := range s.ContainerStatuses {
		if !cs.Ready {
			unready = append(unready, cs.Name)
		}
	}
	ready := condition(corev1.ContainersReady, len(unready) == 0, "ContainersNotReady", fmt.Sprintf("containers with unready status: [%s]", strings.Join(unready, " ")))
	podReady := ready
	podReady.Type = corev1.PodReady
	if s.Phase == corev1.PodSucceeded {
		ready.Reason, podReady.Reason = "PodCompleted", "PodCompleted"
		ready.Message, podReady.Message = "", ""
	}
	if podReady.Status == corev1.ConditionTrue {
		if unmet := unmetReadinessGates(pod); unmet != "" {
			podReady = condition(corev1.PodReady, false, ReasonReadinessGatesNotReady, unmet)
		}
	}
	conds := []corev1.PodCondition{
		condition(corev1.PodReadyToStartContainers, o.sandboxReady, "", ""),
		condition(corev1.PodInitialized, len(incompleteInit) == 0, "ContainersNotInitialized", fmt.Sprintf("containers with incomplete status: [%s]", strings.Join(incompleteInit, " "))),
		ready,
		podReady,
		condition(corev1.PodScheduled, true, "", ""),
	}
	for i := range conds {
		conds[i].LastTransitionTime = metav1.Time{Time: o.now}
		for _, old := range pod.Status.Conditions {
			if old.Type == conds[i].Type && old.Status == conds[i].Status && !old.LastTransitionTime.IsZero() {
				conds[i].LastTransitionTime = old.LastTransitionTime
			}
		}
	}
	// Conditions others own (readiness gates', a disruption's) stay as the pod has them.
	for _, c := range pod.Status.Conditions {
		if !ownConditions[c.Type] {
			conds = append(conds, c)
		}
	}
	s.Conditions = conds
	return s
}

// ReasonReadinessGatesNotReady is the Ready condition's reason while the containers are
// ready and a readiness gate is not, as the kubelet's.
const ReasonReadinessGatesNotReady = "ReadinessGatesNotReady"

// ownConditions are the pod conditions the agent computes; it keeps every other one.
var ownConditions = map[corev1.PodConditionType]bool{corev1.PodReadyToStartContainers: true, corev1.PodInitialized: true,
	corev1.ContainersReady: true, corev1.PodReady: true, corev1.PodScheduled: true}

// unmetReadinessGates says, in the kubelet's words, which of the pod's readiness gates
// has no condition of its type with status True; "" when all are met.
func unmetReadinessGates(pod *corev1alpha1.Pod) string {
	var unmet []string
	for _, gate := range pod.Spec.ReadinessGates {
		var found *corev1.PodCondition
		for i := range pod.Status.Conditions {
			if pod.Status.Conditions[i].Type == gate.ConditionType {
				found = &pod.Status.Conditions[i]
			}
		}
		switch {
		case found == nil:
			unmet = append(unmet, fmt.Sprintf("corresponding condition of pod readiness gate %q does not exist.", gate.ConditionType))
		case found.Status != corev1.ConditionTrue:
			unmet = append(unmet, fmt.Sprintf("the status of pod readiness gate %q is not \"True\", but %v", gate.ConditionType, found.Status))
		}
	}
	return strings.Join(unmet, ", ")
}

func condition(t corev1.PodConditionType, ok bool, falseReason, falseMessage string) corev1.PodCondition {
	if ok {
		return corev1.PodCondition{Type: t, Status: corev1.ConditionTrue}
	}
	return corev1.PodCondition{Type: t, Status: corev1.ConditionFalse, Reason: falseReason, Message: falseMessage}
}

// containerStatuses reports each container of specs: its newest instance's state (or why
// it waits, notCreated when nothing else says), the one before as lastState, and the
// restart count. An init container that exited 0 is ready, as upstream reports it.
func containerStatuses(specs []corev1.Container, o observed, init bool, notCreated string) []corev1.ContainerStatus {
	out := make([]corev1.ContainerStatus, 0, len(specs))
	for _, spec := range specs {
		cs := corev1.ContainerStatus{Name: spec.Name, Image: spec.Image, Started: new(false)}
		instances := o.containers[spec.Name]
		why, waits := o.waiting[spec.Name]
		if len(instances) == 0 {
			if !waits {
				why = reason{reason: notCreated}
			}
			cs.State.Waiting = &corev1.ContainerStateWaiting{Reason: why.reason, Message: why.message}
			out = append(out, cs)
			continue
		}
		latest := instances[0]
		cs.ContainerID, cs.ImageID, cs.RestartCount = o.runtimeName+"://"+latest.ID, latest.ImageID, latest.Attempt
		switch {
		case latest.State == runtime.StateRunning:
			cs.State.Running = &corev1.ContainerStateRunning{StartedAt: metav1.Time{Time: latest.StartedAt}}
			started, ready := true, true
			if o.probes != nil {
				started, ready = o.probes.Started(latest.ID, &spec), o.probes.Ready(latest.ID, &spec)
			}
			cs.Started, cs.Ready = &started, ready && (!init || isSidecar(&spec))
		case latest.State == runtime.StateExited && waits:
			cs.State.Waiting = &corev1.ContainerStateWaiting{Reason: why.reason, Message: why.message}
			cs.LastTerminationState.Terminated = terminatedState(latest, o)
		case latest.State == runtime.StateExited:
			cs.State.Terminated = terminatedState(latest, o)
			cs.Ready = init && !isSidecar(&spec) && latest.ExitCode == 0
		default:
			cs.State.Waiting = &corev1.ContainerStateWaiting{Reason: ReasonContainerCreating}
		}
		if cs.LastTerminationState.Terminated == nil && len(instances) > 1 && instances[1].State == runtime.StateExited {
			cs.LastTerminationState.Terminated = terminatedState(instances[1], o)
		}
		out = append(out, cs)
	}
	return out
}

func terminatedState(c runtime.Container, o observed) *corev1.ContainerStateTerminated {
	message := c.Message
	if why, ok := o.killed[c.ID]; ok && message == "" {
		message = why
	}
	return &corev1.ContainerStateTerminated{ExitCode: c.ExitCode, Reason: c.Reason, Message: message,
		StartedAt: metav1.Time{Time: c.StartedAt}, FinishedAt: metav1.Time{Time: c.FinishedAt}, ContainerID: o.runtimeName + "://" + c.ID}
}

// phase follows upstream's kubelet: Pending while an init container or a never-started
// container waits; Running while any runs or will be restarted; Succeeded when every
// container exited 0 for good; Failed when one failed for good. A pod stopped by deletion
// is Succeeded or Failed by how its containers exited.
func phase(pod *corev1alpha1.Pod, s corev1.PodStatus, terminated bool) corev1.PodPhase {
	policy := pod.Spec.RestartPolicy
	for i, cs := range s.InitContainerStatuses {
		if isSidecar(&pod.Spec.InitContainers[i]) {
			// Sidecars decide no phase: the main containers waiting on them keep the pod
			// Pending, and they are stopped once the main containers are done.
			continue
		}
		t := cs.State.Terminated
		if t != nil && t.ExitCode == 0 {
			continue
		}
		failed := (t != nil && t.ExitCode != 0) || cs.LastTerminationState.Terminated != nil
		if terminated || (failed && policy == corev1.RestartPolicyNever) {
			return corev1.PodFailed
		}
		return corev1.PodPending
	}
	var running, waiting, stopped, succeeded int
	for _, cs := range s.ContainerStatuses {
		switch {
		case cs.State.Running != nil:
			running++
		case cs.State.Terminated != nil:
			stopped++
			if cs.State.Terminated.ExitCode == 0 {
				succeeded++
			}
		case cs.LastTerminationState.Terminated != nil:
			stopped++
		default:
			waiting++
		}
	}
	switch {
	case terminated && running == 0:
		if succeeded == len(s.ContainerStatuses) {
			return corev1.PodSucceeded
		}
		return corev1.PodFailed
	case waiting > 0:
		return corev1.PodPending
	case running > 0:
		return corev1.PodRunning
	case policy == corev1.RestartPolicyAlways || policy == "":
		return corev1.PodRunning
	case succeeded == stopped:
		return corev1.PodSucceeded
	case policy == corev1.RestartPolicyNever:
		return corev1.PodFailed
	default:
		return corev1.PodRunning
	}
}

// qosClass is upstream's: Guaranteed when every container sets equal cpu and memory
// requests and limits, BestEffort when none sets any, else Burstable.
func qosClass(pod *corev1alpha1.Pod) corev1.PodQOSClass {
	all := slices.Concat(pod.Spec.InitContainers, pod.Spec.Containers)
	anySet, guaranteed := false, true
	for _, c := range all {
		for _, name := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
			req, hasReq := c.Resources.Requests[name]
			lim, hasLim := c.Resources.Limits[name]
			if hasReq || hasLim {
				anySet = true
			}
			if !hasLim || (hasReq && req.Cmp(lim) != 0) {
				guaranteed = false
			}
		}
	}
	switch {
	case !anySet:
		return corev1.PodQOSBestEffort
	case guaranteed:
		return corev1.PodQOSGuaranteed
	default:
		return corev1.PodQOSBurstable
	}
}
