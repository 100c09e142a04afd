package controllers

import (
	"flag"
	"strings"
	"testing"
)

func TestConcurrencyFlags(t *testing.T) {
	cases := []struct {
		name    string
		args    []string
		check   func(c Concurrency) bool
		wantErr string
	}{
		{"upstream defaults", nil, func(c Concurrency) bool {
			return c.ReplicaSet == 5 && c.Deployment == 5 && c.DaemonSet == 2 && c.StatefulSet == 5 && c.Job == 5 &&
				c.CronJob == 5 && c.GarbageCollector == 20 && c.Endpoints == 5 && c.HorizontalPodAutoscaler == 5
		}, ""},
		{"upstream flag names", []string{"--concurrent-deployment-syncs=9", "--concurrent-gc-syncs=3"}, func(c Concurrency) bool {
			return c.Deployment == 9 && c.GarbageCollector == 3 && c.ReplicaSet == 5
		}, ""},
		{"zero is refused, naming the flag", []string{"--concurrent-job-syncs=0"}, nil, "--concurrent-job-syncs=0: must be at least 1"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var c Concurrency
			fs := flag.NewFlagSet("test", flag.ContinueOnError)
			c.BindFlags(fs)
			if err := fs.Parse(tc.args); err != nil {
				t.Fatal(err)
			}
			err := c.Validate()
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Validate() = %v, want error containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Validate() = %v", err)
			}
			if !tc.check(c) {
				t.Fatalf("parsed %+v", c)
			}
		})
	}
}
