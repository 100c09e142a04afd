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

func TestServiceRangeFlags(t *testing.T) {
	cases := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"upstream defaults", nil, ""},
		{"a /24 and a narrower port range", []string{"--service-cluster-ip-range=10.0.0.0/24", "--service-node-port-range=31000-31099"}, ""},
		{"IPv6 is refused, naming the flag", []string{"--service-cluster-ip-range=fd00::/108"}, "--service-cluster-ip-range=fd00::/108: must be an IPv4 CIDR"},
		{"too wide a range is refused", []string{"--service-cluster-ip-range=10.0.0.0/8"}, "--service-cluster-ip-range=10.0.0.0/8"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var o Options
			fs := flag.NewFlagSet("test", flag.ContinueOnError)
			o.BindFlags(fs)
			if err := fs.Parse(tc.args); err != nil {
				t.Fatal(err)
			}
			err := o.Validate()
			if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("Validate() = %v, want error containing %q", err, tc.wantErr)
			}
			if tc.args == nil && (o.ServiceClusterIPRange.String() != "10.96.0.0/16" || o.ServiceNodePortRange.String() != "30000-32767") {
				t.Fatalf("defaults: %s, %s", o.ServiceClusterIPRange, o.ServiceNodePortRange.String())
			}
		})
	}
}
