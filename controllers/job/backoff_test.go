package job

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
)

// endedAt is a pod in phase whose container ended at t.
func endedAt(phase corev1.PodPhase, t time.Time) *corev1alpha1.Pod {
	p := &corev1alpha1.Pod{}
	p.Status.Phase = phase
	p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "c",
		State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{FinishedAt: metav1.NewTime(t)}}}}
	return p
}

func TestBackoffFor(t *testing.T) {
	for n, want := range map[int32]time.Duration{1: 10 * time.Second, 2: 20 * time.Second, 4: 80 * time.Second, 6: 320 * time.Second, 7: 6 * time.Minute, 30: 6 * time.Minute} {
		if got := backoffFor(n); got != want {
			t.Errorf("backoffFor(%d) = %s, want %s", n, got, want)
		}
	}
}

func TestBackoffNext(t *testing.T) {
	t0 := now.Add(-time.Minute)
	cases := []struct {
		name          string
		stored        backoffRecord
		succeeded     []*corev1alpha1.Pod
		failed        []*corev1alpha1.Pod
		wantFailures  int32
		wantRemaining time.Duration
	}{
		{"first failure: 10 s from its end", backoffRecord{}, nil, []*corev1alpha1.Pod{endedAt(corev1.PodFailed, now.Add(-4*time.Second))}, 1, 6 * time.Second},
		{"third failure in a row: 40 s", backoffRecord{failures: 2, lastFailure: t0}, nil, []*corev1alpha1.Pod{endedAt(corev1.PodFailed, now.Add(-10*time.Second))}, 3, 30 * time.Second},
		{"a success clears earlier failures", backoffRecord{failures: 4, lastFailure: t0}, []*corev1alpha1.Pod{endedAt(corev1.PodSucceeded, now)}, nil, 0, 0},
		{"failures after the success still count", backoffRecord{failures: 4, lastFailure: t0},
			[]*corev1alpha1.Pod{endedAt(corev1.PodSucceeded, now.Add(-30*time.Second))},
			[]*corev1alpha1.Pod{endedAt(corev1.PodFailed, now.Add(-40*time.Second)), endedAt(corev1.PodFailed, now.Add(-5*time.Second))}, 1, 5 * time.Second},
		{"long past: no wait", backoffRecord{}, nil, []*corev1alpha1.Pod{endedAt(corev1.PodFailed, now.Add(-time.Hour))}, 1, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := newBackoffStore()
			s.set("k", c.stored)
			got := s.next("k", c.succeeded, c.failed, now)
			if got.failures != c.wantFailures || got.remaining(now) != c.wantRemaining {
				t.Errorf("got %d failures, %s remaining; want %d, %s", got.failures, got.remaining(now), c.wantFailures, c.wantRemaining)
			}
		})
	}
}
