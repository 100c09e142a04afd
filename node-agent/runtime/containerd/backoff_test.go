package containerd

import (
	"testing"
	"time"
)

func TestBackoffNext(t *testing.T) {
	b := Backoff{Initial: time.Second, Max: 30 * time.Second, Reset: time.Minute}
	for _, tc := range []struct {
		name         string
		last, ranFor time.Duration
		want         time.Duration
	}{
		{"first exit", 0, time.Second, time.Second},
		{"first exit after a long run", 0, time.Hour, time.Second},
		{"second quick exit doubles", time.Second, 2 * time.Second, 2 * time.Second},
		{"keeps doubling", 8 * time.Second, 0, 16 * time.Second},
		{"capped at the maximum", 16 * time.Second, 0, 30 * time.Second},
		{"stays at the maximum", 30 * time.Second, 59 * time.Second, 30 * time.Second},
		{"a stable run resets it", 30 * time.Second, time.Minute, time.Second},
		{"a longer stable run resets it", 4 * time.Second, time.Hour, time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := b.Next(tc.last, tc.ranFor); got != tc.want {
				t.Errorf("Next(%v, %v) = %v, want %v", tc.last, tc.ranFor, got, tc.want)
			}
		})
	}
}

func TestDefaultBackoffSequence(t *testing.T) {
	var got []time.Duration
	var last time.Duration
	for range 7 {
		last = DefaultBackoff.Next(last, 0)
		got = append(got, last)
	}
	want := []time.Duration{1, 2, 4, 8, 16, 30, 30}
	for i := range want {
		if got[i] != want[i]*time.Second {
			t.Fatalf("DefaultBackoff after %d quick exits: %v, want %v s", i+1, got, want)
		}
	}
}
