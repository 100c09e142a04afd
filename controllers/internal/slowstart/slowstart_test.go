package slowstart

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
)

func TestRun(t *testing.T) {
	cases := []struct {
		name          string
		count         int
		failFrom      int32 // calls numbered from 1; 0 never fails
		wantCalls     int32
		wantSucceeded int
		wantErr       bool
	}{
		{"count=10, all succeed: batches 1, 2, 4, 3", 10, 0, 10, 10, false},
		{"count=0: no call", 0, 0, 0, 0, false},
		{"count=100, every call fails: one call", 100, 1, 1, 0, true},
		{"count=100, calls fail from the 5th: batches 1, 2 and the batch of 4 that failed", 100, 5, 7, 4, true},
		{"count=20, calls fail from the 12th: batches 1, 2, 4 and the batch of 8 that failed", 20, 12, 15, 11, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var calls atomic.Int32
			succeeded, err := Run(context.Background(), tc.count, 1, func(context.Context) error {
				if n := calls.Add(1); tc.failFrom > 0 && n >= tc.failFrom {
					return errors.New("refused")
				}
				return nil
			})
			if calls.Load() != tc.wantCalls || succeeded != tc.wantSucceeded || (err != nil) != tc.wantErr {
				t.Fatalf("calls=%d succeeded=%d err=%v; want calls=%d succeeded=%d err=%v",
					calls.Load(), succeeded, err, tc.wantCalls, tc.wantSucceeded, tc.wantErr)
			}
		})
	}
}
