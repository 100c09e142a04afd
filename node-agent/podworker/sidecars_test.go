package podworker

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"
)

func sidecar(name string, command ...string) corev1.Container {
	c := ctr(name, command...)
	c.RestartPolicy = ptr.To(corev1.ContainerRestartPolicyAlways)
	return c
}

func TestSidecarsStartFirstRestartAlwaysAndStopLast(t *testing.T) {
	pod := testPod(corev1.RestartPolicyNever, ctr("app", "sh", "-c", "sleep 5"))
	pod.Spec.InitContainers = []corev1.Container{sidecar("proxy", "sh", "-c", "sleep 2; exit 1"), ctr("setup", "true")}
	r := newRig(t, pod)

	r.step(0)
	if r.container("proxy").State.Waiting == nil || r.container("setup").State.Waiting == nil {
		t.Fatalf("first sync: the sidecar is being created, setup waits: %+v / %+v", r.container("proxy").State, r.container("setup").State)
	}
	r.step(latency) // proxy runs; setup starts
	if r.container("proxy").State.Running == nil || !r.container("proxy").Ready {
		t.Fatalf("the sidecar runs and is ready: %+v", r.container("proxy"))
	}
	r.step(latency) // setup ran and exited 0; app starts
	r.step(latency) // app runs
	if r.container("app").State.Running == nil || r.phase() != corev1.PodRunning {
		t.Fatalf("app %+v, phase %s", r.container("app").State, r.phase())
	}
	r.step(2 * time.Second) // the sidecar exits 1: restarted although the pod's policy is Never
	r.step(latency)
	if cs := r.container("proxy"); cs.RestartCount != 1 || cs.State.Running == nil {
		t.Fatalf("the sidecar was not restarted: %+v", cs)
	}
	r.step(3 * time.Second) // app exits 0: the sidecar is stopped, the pod succeeded
	if r.w.State() != StateTerminated || r.phase() != corev1.PodSucceeded {
		t.Fatalf("after the main container: state %s, phase %s", r.w.State(), r.phase())
	}
	if r.container("proxy").State.Terminated == nil {
		t.Fatalf("the sidecar still runs: %+v", r.container("proxy").State)
	}
}
