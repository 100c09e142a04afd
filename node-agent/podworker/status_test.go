package podworker

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
	"github.com/kybern/kybern/node-agent/runtime"
)

func running(name string) runtime.Container {
	return runtime.Container{Name: name, State: runtime.StateRunning, StartedAt: time.Unix(10, 0)}
}

func exited(name string, code int32, attempt int32) runtime.Container {
	return runtime.Container{Name: name, State: runtime.StateExited, ExitCode: code, Attempt: attempt}
}

func TestPhaseAsUpstreamKubelet(t *testing.T) {
	two := []corev1.Container{{Name: "a"}, {Name: "b"}}
	cases := []struct {
		name       string
		policy     corev1.RestartPolicy
		init       []corev1.Container
		containers map[string][]runtime.Container
		waiting    map[string]reason
		terminated bool
		want       corev1.PodPhase
	}{
		{"one running, one not started yet: Pending", corev1.RestartPolicyAlways, nil,
			map[string][]runtime.Container{"a": {running("a")}}, nil, false, corev1.PodPending},
		{"both running: Running", corev1.RestartPolicyAlways, nil,
			map[string][]runtime.Container{"a": {running("a")}, "b": {running("b")}}, nil, false, corev1.PodRunning},
		{"Always, both exited: Running, they restart", corev1.RestartPolicyAlways, nil,
			map[string][]runtime.Container{"a": {exited("a", 0, 0)}, "b": {exited("b", 1, 0)}}, nil, false, corev1.PodRunning},
		{"Never, both exited 0: Succeeded", corev1.RestartPolicyNever, nil,
			map[string][]runtime.Container{"a": {exited("a", 0, 0)}, "b": {exited("b", 0, 0)}}, nil, false, corev1.PodSucceeded},
		{"Never, one failed: Failed", corev1.RestartPolicyNever, nil,
			map[string][]runtime.Container{"a": {exited("a", 0, 0)}, "b": {exited("b", 2, 0)}}, nil, false, corev1.PodFailed},
		{"OnFailure, a failed one backing off: Running", corev1.RestartPolicyOnFailure, nil,
			map[string][]runtime.Container{"a": {exited("a", 0, 0)}, "b": {exited("b", 2, 0)}},
			map[string]reason{"b": {ReasonCrashLoopBackOff, ""}}, false, corev1.PodRunning},
		{"an init container failed under Never: Failed", corev1.RestartPolicyNever, []corev1.Container{{Name: "setup"}},
			map[string][]runtime.Container{"setup": {exited("setup", 1, 0)}}, nil, false, corev1.PodFailed},
		{"an init container failed under Always: Pending, it restarts", corev1.RestartPolicyAlways, []corev1.Container{{Name: "setup"}},
			map[string][]runtime.Container{"setup": {exited("setup", 1, 0)}}, map[string]reason{"setup": {ReasonCrashLoopBackOff, ""}}, false, corev1.PodPending},
		{"deleted, stopped with 0: Succeeded", corev1.RestartPolicyAlways, nil,
			map[string][]runtime.Container{"a": {exited("a", 0, 0)}, "b": {exited("b", 0, 0)}}, nil, true, corev1.PodSucceeded},
		{"deleted, stopped by SIGTERM: Failed", corev1.RestartPolicyAlways, nil,
			map[string][]runtime.Container{"a": {exited("a", 143, 0)}, "b": {exited("b", 0, 0)}}, nil, true, corev1.PodFailed},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			pod := &corev1alpha1.Pod{}
			pod.Spec.RestartPolicy, pod.Spec.InitContainers, pod.Spec.Containers = tc.policy, tc.init, two
			s := podStatus(pod, observed{sandboxReady: true, containers: tc.containers, waiting: tc.waiting, terminated: tc.terminated, now: time.Unix(20, 0)})
			if s.Phase != tc.want {
				t.Fatalf("phase %s, want %s (statuses %+v)", s.Phase, tc.want, s.ContainerStatuses)
			}
		})
	}
}

func TestConditionsKeepTransitionTimesAndSayWhy(t *testing.T) {
	pod := &corev1alpha1.Pod{}
	pod.Spec.Containers = []corev1.Container{{Name: "a"}, {Name: "b"}}
	first := podStatus(pod, observed{sandboxReady: true, containers: map[string][]runtime.Container{"a": {running("a")}}, now: time.Unix(20, 0)})
	ready := condOf(first, corev1.PodReady)
	if ready.Status != corev1.ConditionFalse || ready.Reason != "ContainersNotReady" || ready.Message != "containers with unready status: [b]" {
		t.Fatalf("Ready with b not started: %+v", ready)
	}
	pod.Status = first
	later := podStatus(pod, observed{sandboxReady: true, containers: map[string][]runtime.Container{"a": {running("a")}}, now: time.Unix(90, 0)})
	if got := condOf(later, corev1.PodReady).LastTransitionTime.Unix(); got != 20 {
		t.Fatalf("an unchanged condition moved its transition time to %d", got)
	}
	if later.QOSClass != corev1.PodQOSBestEffort {
		t.Fatalf("qosClass %s, want BestEffort", later.QOSClass)
	}
}

func condOf(s corev1.PodStatus, t corev1.PodConditionType) corev1.PodCondition {
	for _, c := range s.Conditions {
		if c.Type == t {
			return c
		}
	}
	return corev1.PodCondition{}
}

func TestReadinessGatesHoldReadyUntilTheirConditionsAreTrue(t *testing.T) {
	pod := &corev1alpha1.Pod{}
	pod.Spec.Containers = []corev1.Container{{Name: "a"}}
	pod.Spec.ReadinessGates = []corev1.PodReadinessGate{{ConditionType: "example.com/lb-registered"}, {ConditionType: "example.com/warm"}}
	seen := observed{sandboxReady: true, containers: map[string][]runtime.Container{"a": {running("a")}}, now: time.Unix(20, 0)}

	s := podStatus(pod, seen)
	if c := condOf(s, corev1.ContainersReady); c.Status != corev1.ConditionTrue {
		t.Fatalf("ContainersReady: %+v", c)
	}
	want := `corresponding condition of pod readiness gate "example.com/lb-registered" does not exist., corresponding condition of pod readiness gate "example.com/warm" does not exist.`
	if c := condOf(s, corev1.PodReady); c.Status != corev1.ConditionFalse || c.Reason != ReasonReadinessGatesNotReady || c.Message != want {
		t.Fatalf("Ready with no gate condition: %+v", c)
	}

	pod.Status = s
	pod.Status.Conditions = append(pod.Status.Conditions,
		corev1.PodCondition{Type: "example.com/lb-registered", Status: corev1.ConditionTrue},
		corev1.PodCondition{Type: "example.com/warm", Status: corev1.ConditionFalse, Reason: "Cold"})
	s = podStatus(pod, seen)
	if c := condOf(s, corev1.PodReady); c.Status != corev1.ConditionFalse || c.Message != `the status of pod readiness gate "example.com/warm" is not "True", but False` {
		t.Fatalf("Ready with one gate False: %+v", c)
	}
	if c := condOf(s, "example.com/warm"); c.Reason != "Cold" {
		t.Fatalf("the gate's own condition was not kept: %+v", s.Conditions)
	}

	pod.Status = s
	pod.Status.Conditions[len(pod.Status.Conditions)-1].Status = corev1.ConditionTrue
	if c := condOf(podStatus(pod, seen), corev1.PodReady); c.Status != corev1.ConditionTrue {
		t.Fatalf("Ready with every gate True: %+v", c)
	}
}

// As upstream's kubelet reports them: an init container that exited 0 is ready, one that
// failed is not; a container not created yet waits as PodInitializing in a pod with init
// containers, finished or not, and as ContainerCreating in a pod without.
func TestContainerStatusesAsUpstreamKubelet(t *testing.T) {
	withInit := &corev1alpha1.Pod{}
	withInit.Spec.InitContainers = []corev1.Container{{Name: "setup"}, {Name: "broken"}, {Name: "later"}}
	withInit.Spec.Containers = []corev1.Container{{Name: "main"}}
	s := podStatus(withInit, observed{sandboxReady: true, now: time.Unix(20, 0),
		containers: map[string][]runtime.Container{"setup": {exited("setup", 0, 0)}, "broken": {exited("broken", 1, 0)}}})
	init := map[string]corev1.ContainerStatus{}
	for _, cs := range s.InitContainerStatuses {
		init[cs.Name] = cs
	}
	if !init["setup"].Ready || init["broken"].Ready || init["later"].Ready {
		t.Errorf("init containers ready: setup %v (exited 0), broken %v (exited 1), later %v (not started); want true, false, false",
			init["setup"].Ready, init["broken"].Ready, init["later"].Ready)
	}
	if w := init["later"].State.Waiting; w == nil || w.Reason != ReasonContainerCreating {
		t.Errorf("an init container not created yet: %+v, want waiting ContainerCreating", init["later"].State)
	}
	if w := s.ContainerStatuses[0].State.Waiting; w == nil || w.Reason != ReasonPodInitializing {
		t.Errorf("main container of a pod with init containers: %+v, want waiting PodInitializing", s.ContainerStatuses[0].State)
	}

	withInit.Spec.InitContainers = withInit.Spec.InitContainers[:1]
	s = podStatus(withInit, observed{sandboxReady: true, now: time.Unix(20, 0), containers: map[string][]runtime.Container{"setup": {exited("setup", 0, 0)}}})
	if w := s.ContainerStatuses[0].State.Waiting; w == nil || w.Reason != ReasonPodInitializing {
		t.Errorf("main container once the init containers finished: %+v, want waiting PodInitializing", s.ContainerStatuses[0].State)
	}

	plain := &corev1alpha1.Pod{}
	plain.Spec.Containers = []corev1.Container{{Name: "main"}}
	s = podStatus(plain, observed{sandboxReady: true, now: time.Unix(20, 0)})
	if w := s.ContainerStatuses[0].State.Waiting; w == nil || w.Reason != ReasonContainerCreating {
		t.Errorf("main container of a pod without init containers: %+v, want waiting ContainerCreating", s.ContainerStatuses[0].State)
	}
}
