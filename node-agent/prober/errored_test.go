package prober

import (
	"context"
	"errors"
	"net"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/kybern/kybern/node-agent/internal/testutil"
	"github.com/kybern/kybern/node-agent/runtime"
)

// execTarget answers exec probes with err while it is set, else with exit code 1.
type execTarget struct {
	mu   sync.Mutex
	err  error
	runs int
}

func (t *execTarget) ExecSync(context.Context, string, []string, time.Duration) (runtime.ExecResult, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.runs++
	if t.err != nil {
		return runtime.ExecResult{}, t.err
	}
	return runtime.ExecResult{ExitCode: 1, Output: "unhealthy"}, nil
}

func (t *execTarget) DialContext(context.Context, runtime.PodRef, string, string) (net.Conn, error) {
	return nil, errors.New("no network here")
}

func (t *execTarget) ran() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.runs
}

// A liveness probe the runtime cannot run (containerd down or restarting) is thrown
// away, as upstream's prober throws away a probe that errored: an outage of the runtime
// must restart no container. The same probe failing by its exit code counts.
func TestExecProbeTheRuntimeCannotRunIsNotCounted(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Unix(1000, 0))
	target := &execTarget{err: errors.New("containerd is not serving (down or restarting)")}
	var mu sync.Mutex
	var errored, failed int
	s := NewSet(target, clk, runtime.PodRef{Namespace: "ns", Name: "p", UID: "uid"}, func() {},
		func(_ *corev1.Container, _ Kind, _ string, e bool) {
			mu.Lock()
			defer mu.Unlock()
			if e {
				errored++
			} else {
				failed++
			}
		})
	defer s.Stop()
	c := &corev1.Container{Name: "web", LivenessProbe: &corev1.Probe{
		ProbeHandler:  corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"check"}}},
		PeriodSeconds: 1, FailureThreshold: 1, SuccessThreshold: 1, TimeoutSeconds: 1}}
	s.Sync(context.Background(), []Running{{ID: "c1", StartedAt: clk.Now(), Spec: c}})

	for i := 1; i <= 3; i++ {
		testutil.Until(t, "the probe to run", func() bool { return target.ran() >= i })
		if _, dead := s.Failed("c1"); dead {
			t.Fatalf("after %d errored runs with a failure threshold of 1 the container is to be killed", i)
		}
		testutil.Until(t, "the probe loop's ticker", func() bool { return clk.HasWaiters() })
		clk.Step(time.Second)
	}
	mu.Lock()
	if errored < 3 || failed != 0 {
		t.Errorf("unhealthy reports: %d errored, %d failed; want every run reported errored", errored, failed)
	}
	mu.Unlock()

	target.mu.Lock()
	target.err = nil
	target.mu.Unlock()
	clk.Step(time.Second)
	testutil.Until(t, "a failing exit code to count", func() bool { _, dead := s.Failed("c1"); return dead })
}
