package podworker

import (
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/kybern/kybern/node-agent/internal/testutil"
)

// probed waits until n probes ran in all; each probe loop makes its ticker before its
// first probe, so a clock step after that reaches it.
func (r *rig) probed(n int32) {
	r.t.Helper()
	testutil.Until(r.t, "probes to run", func() bool { return r.execs.Load() >= n })
}

func execProbe(period, failures int32, command ...string) *corev1.Probe {
	return &corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: command}},
		PeriodSeconds: period, FailureThreshold: failures, SuccessThreshold: 1, TimeoutSeconds: 1}
}

func TestReadinessProbeDecidesReady(t *testing.T) {
	c := ctr("web", "httpd", "-f")
	c.ReadinessProbe = execProbe(1, 1, "false")
	r := newRig(t, testPod(corev1.RestartPolicyAlways, c))
	r.step(0)
	r.step(latency)
	cs := r.container("web")
	if cs.State.Running == nil || cs.Ready {
		t.Fatalf("before any probe succeeded the container must run unready: %+v ready=%v", cs.State, cs.Ready)
	}
	id := strings.TrimPrefix(cs.ContainerID, "simulated://")
	r.probed(1)
	r.clock.Step(time.Second)
	r.probed(2)
	r.step(0)
	if r.w.probes.Ready(id, &c) || r.container("web").Ready {
		t.Fatal("a failing readiness probe must keep the container unready")
	}
	if _, failed := r.w.probes.Failed(id); failed {
		t.Fatal("a failing readiness probe must not restart the container")
	}
}

func TestLivenessProbeRestartsTheContainer(t *testing.T) {
	c := ctr("web", "httpd", "-f")
	c.LivenessProbe = execProbe(1, 2, "false")
	c.ReadinessProbe = execProbe(1, 1, "true")
	r := newRig(t, testPod(corev1.RestartPolicyAlways, c))
	r.step(0)
	r.step(latency)
	id := strings.TrimPrefix(r.container("web").ContainerID, "simulated://")
	testutil.Until(t, "the readiness probe to succeed", func() bool { return r.w.probes.Ready(id, &c) })
	r.step(0)
	if !r.container("web").Ready {
		t.Fatalf("ready after the readiness probe succeeded: %+v", r.container("web"))
	}
	if _, failed := r.w.probes.Failed(id); failed {
		t.Fatal("one liveness failure of a threshold of two restarted the container")
	}
	r.probed(2)
	r.clock.Step(time.Second)
	testutil.Until(t, "the second liveness failure", func() bool { _, failed := r.w.probes.Failed(id); return failed })
	r.step(0) // kills it
	r.step(0) // restarts it at once
	cs := r.container("web")
	if cs.RestartCount != 1 || cs.LastTerminationState.Terminated == nil {
		t.Fatalf("after the liveness failure: %+v", cs)
	}
	if msg := cs.LastTerminationState.Terminated.Message; !strings.Contains(msg, "Container web failed liveness probe, will be restarted") {
		t.Fatalf("lastState message %q does not say why", msg)
	}
}

func TestStartupProbeHoldsTheOthersBack(t *testing.T) {
	c := ctr("web", "httpd", "-f")
	c.StartupProbe = execProbe(1, 3, "false")
	c.LivenessProbe = execProbe(1, 1, "false")
	r := newRig(t, testPod(corev1.RestartPolicyAlways, c))
	r.step(0)
	r.step(latency)
	cs := r.container("web")
	id := strings.TrimPrefix(cs.ContainerID, "simulated://")
	if *cs.Started {
		t.Fatal("started before the startup probe succeeded")
	}
	r.probed(1)
	r.clock.Step(time.Second)
	r.probed(2)
	if why, failed := r.w.probes.Failed(id); failed {
		t.Fatalf("a probe failed for good after two startup failures of three: %s", why.Message())
	}
	r.clock.Step(time.Second)
	testutil.Until(t, "the third startup failure", func() bool { _, failed := r.w.probes.Failed(id); return failed })
	if why, _ := r.w.probes.Failed(id); !strings.Contains(why.Message(), "failed startup probe") {
		t.Fatalf("reason %q, want the startup probe's", why.Message())
	}
	if n := r.execs.Load(); n != 3 {
		t.Fatalf("%d probes ran, want only the 3 startup probes: liveness waits for startup", n)
	}
}
