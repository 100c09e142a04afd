package controllers

import (
	"flag"
	"io"
	"slices"
	"strings"
	"testing"
)

// parse binds a fresh Options to a flag set and parses args, as main.go does.
func parse(t *testing.T, args []string) (Options, error) {
	t.Helper()
	var o Options
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	o.BindFlags(fs)
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	return o, o.Validate()
}

func TestConcurrencyFlags(t *testing.T) {
	cases := []struct {
		name    string
		args    []string
		want    map[string]int
		wantErr string
	}{
		{"upstream defaults", nil, map[string]int{
			"replicaset": 5, "deployment": 5, "daemonset": 2, "statefulset": 5, "job": 5,
			"cronjob": 5, "garbagecollector": 20, "endpointslice": 5, "scheduler": 16,
		}, ""},
		{"upstream flag names", []string{"--concurrent-deployment-syncs=9", "--concurrent-gc-syncs=3"}, map[string]int{
			"deployment": 9, "garbagecollector": 3, "replicaset": 5,
		}, ""},
		{"zero is refused, naming the flag", []string{"--concurrent-job-syncs=0"}, nil, "--concurrent-job-syncs=0: must be at least 1"},
		{"the autoscaler's flag", []string{"--concurrent-horizontal-pod-autoscaler-syncs=7"}, map[string]int{"horizontalpodautoscaling": 7, "job": 5}, ""},
		{"no flag for a controller that does not exist", []string{"--concurrent-foo-syncs=5"}, nil, "flag provided but not defined: -concurrent-foo-syncs"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o, err := parse(t, tc.args)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("parse = %v, want error containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("parse = %v", err)
			}
			for name, want := range tc.want {
				if got := o.Concurrency[name]; got != want {
					t.Errorf("concurrency of %s = %d, want %d", name, got, want)
				}
			}
		})
	}
}

func TestControllersFlag(t *testing.T) {
	all := Names()
	onByDefault := without(all, "serviceaccount", "root-ca-cert-publisher")
	cases := []struct {
		name    string
		arg     string
		want    []string
		wantErr string
	}{
		{"default runs every controller that is on by default", "", onByDefault, ""},
		{"star runs every controller that is on by default", "--controllers=*", onByDefault, ""},
		{"star and a controller off by default", "--controllers=*,serviceaccount", without(all, "root-ca-cert-publisher"), ""},
		{"a list runs only those", "--controllers=deployment,replicaset,scheduler", []string{"scheduler", "replicaset", "deployment"}, ""},
		{"star minus one", "--controllers=*,-garbagecollector", without(onByDefault, "garbagecollector"), ""},
		{"the first entry naming a controller decides", "--controllers=-job,job,*", without(onByDefault, "job"), ""},
		{"a disabled name alone runs nothing", "--controllers=-job", nil, ""},
		{"an unknown name is refused with the list", "--controllers=*,-replicasets", nil, `--controllers: "-replicasets" is not a controller; choose among *, scheduler, replicaset`},
		{"the autoscaler alone", "--controllers=horizontalpodautoscaling", []string{"horizontalpodautoscaling"}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var args []string
			if tc.arg != "" {
				args = []string{tc.arg}
			}
			o, err := parse(t, args)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("parse = %v, want error containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("parse = %v", err)
			}
			var got []string
			for _, name := range all {
				if o.Enabled(name) {
					got = append(got, name)
				}
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("enabled = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestRegistryNamesAreUnique(t *testing.T) {
	seen := map[string]bool{}
	flags := map[string]bool{}
	for _, c := range Registry {
		if seen[c.Name] || c.Setup == nil || c.Component == "" {
			t.Errorf("entry %q: duplicate name, or no setup or component", c.Name)
		}
		seen[c.Name] = true
		if c.Concurrency != nil {
			if flags[c.Concurrency.Name] || c.Concurrency.Default < 1 {
				t.Errorf("entry %q: flag %s duplicate or default below 1", c.Name, c.Concurrency.Name)
			}
			flags[c.Concurrency.Name] = true
		}
	}
}

func without(names []string, drop ...string) []string {
	return slices.DeleteFunc(slices.Clone(names), func(n string) bool { return slices.Contains(drop, n) })
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
			o, err := parse(t, tc.args)
			if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("Validate() = %v, want error containing %q", err, tc.wantErr)
			}
			if tc.args == nil && (o.ServiceClusterIPRange.String() != "10.96.0.0/16" || o.ServiceNodePortRange.String() != "30000-32767") {
				t.Fatalf("defaults: %s, %s", o.ServiceClusterIPRange, o.ServiceNodePortRange.String())
			}
		})
	}
}
