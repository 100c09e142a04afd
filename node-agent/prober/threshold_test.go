package prober

import "testing"

func TestThreshold(t *testing.T) {
	cases := []struct {
		name                string
		successes, failures int32
		initial             Result
		outcomes            []bool
		want                []Result
	}{
		{name: "readiness: one success makes ready, three failures unready", successes: 1, failures: 3, initial: Failure,
			outcomes: []bool{true, false, false, false, true},
			want:     []Result{Success, Success, Success, Failure, Success}},
		{name: "a success between failures restarts the count", successes: 1, failures: 3, initial: Success,
			outcomes: []bool{false, false, true, false, false, false},
			want:     []Result{Success, Success, Success, Success, Success, Failure}},
		{name: "successThreshold 2 needs two in a row", successes: 2, failures: 1, initial: Failure,
			outcomes: []bool{true, false, true, true},
			want:     []Result{Failure, Failure, Failure, Success}},
		{name: "startup stays unknown until a threshold is reached", successes: 1, failures: 2, initial: Unknown,
			outcomes: []bool{false, false},
			want:     []Result{Unknown, Failure}},
		{name: "zero thresholds count as one", successes: 0, failures: 0, initial: Unknown,
			outcomes: []bool{true, false},
			want:     []Result{Success, Failure}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			th := newThreshold(tc.successes, tc.failures, tc.initial)
			for i, ok := range tc.outcomes {
				before := th.result
				changed := th.observe(ok)
				if th.result != tc.want[i] {
					t.Fatalf("after outcome %d (%v): result %v, want %v", i, ok, th.result, tc.want[i])
				}
				if changed != (before != th.result) {
					t.Fatalf("after outcome %d: changed=%v, but %v → %v", i, changed, before, th.result)
				}
			}
		})
	}
}
