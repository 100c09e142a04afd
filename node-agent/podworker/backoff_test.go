package podworker

import (
	"testing"
	"time"
)

func TestCrashLoopBackOffDoublesToFiveMinutes(t *testing.T) {
	b := backoff{}
	start := time.Unix(0, 0)
	now := start
	var waits []time.Duration
	for range 8 {
		finished := now.Add(time.Second)
		w := b.wait("c", now, finished, finished)
		waits = append(waits, w)
		b.restarted("c")
		now = finished.Add(w)
	}
	want := []time.Duration{0, 10 * time.Second, 20 * time.Second, 40 * time.Second, 80 * time.Second, 160 * time.Second, 300 * time.Second, 300 * time.Second}
	for i := range want {
		if waits[i] != want[i] {
			t.Fatalf("restart %d waited %s, want %s (all: %v)", i, waits[i], want[i], waits)
		}
	}
	if w := b.wait("c", now, now.Add(backoffReset), now.Add(backoffReset)); w != 0 {
		t.Fatalf("after 10 min of running the restart waited %s, want 0", w)
	}
}
