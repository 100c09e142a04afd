package podworker

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/tools/record"
)

func TestEvictStopsThePodAndReportsItEvicted(t *testing.T) {
	r := newRig(t, testPod(corev1.RestartPolicyAlways, ctr("web", "httpd", "-f")))
	recorder := record.NewFakeRecorder(10)
	r.env.Recorder = recorder
	r.step(0)
	r.step(latency)
	if r.phase() != corev1.PodRunning {
		t.Fatalf("phase %s before the eviction", r.phase())
	}
	const msg = "The node was low on resource: memory. Threshold quantity: 100Mi, available: 50Mi. "
	if r.w.stopGrace(30*time.Second) != 30*time.Second {
		t.Fatal("a pod not evicted gets its own grace period")
	}
	if !r.w.Evict(msg, 5*time.Second) {
		t.Fatal("Evict of a running pod returned false")
	}
	if r.w.Evict("again", time.Second) {
		t.Fatal("a second Evict returned true")
	}
	if got := r.w.stopGrace(30 * time.Second); got != 5*time.Second {
		t.Errorf("an evicted pod whose grace period is longer stops in %s, want the eviction's 5s", got)
	}
	if got := r.w.stopGrace(2 * time.Second); got != 2*time.Second {
		t.Errorf("an evicted pod whose grace period is shorter stops in %s, want its own 2s", got)
	}
	r.step(0)
	r.status.mu.Lock()
	st := r.status.last
	r.status.mu.Unlock()
	if r.w.State() != StateTerminated || st.Phase != corev1.PodFailed || st.Reason != ReasonEvicted || st.Message != msg {
		t.Fatalf("after Evict: state %s, phase %s, reason %q, message %q", r.w.State(), st.Phase, st.Reason, st.Message)
	}
	found := false
	for _, c := range st.Conditions {
		if c.Type == corev1.DisruptionTarget {
			found = c.Status == corev1.ConditionTrue && c.Reason == ReasonTerminationByKubelet && c.Message == msg
		}
	}
	if !found {
		t.Fatalf("no DisruptionTarget condition by the kubelet in %+v", st.Conditions)
	}
	evictedEvents := 0
	for len(recorder.Events) > 0 {
		if e := <-recorder.Events; e == "Warning Evicted "+msg {
			evictedEvents++
		}
	}
	if evictedEvents != 1 {
		t.Errorf("%d Evicted Warning events, want 1", evictedEvents)
	}
	if r.container("web").State.Terminated == nil {
		t.Fatalf("the container still runs: %+v", r.container("web").State)
	}
}
