package simulated

import (
	"context"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"

	"github.com/kybern/kybern/node-agent/runtime"
)

func TestPlanReadsTheCommand(t *testing.T) {
	cases := []struct {
		argv []string
		want behaviour
	}{
		{nil, behaviour{forever: true}},
		{[]string{"httpd", "-f", "-p", "80"}, behaviour{forever: true}},
		{[]string{"true"}, behaviour{}},
		{[]string{"/bin/false"}, behaviour{exitCode: 1}},
		{[]string{"sleep", "2.5"}, behaviour{runFor: 2500 * time.Millisecond}},
		{[]string{"sh", "-c", "echo hello; sleep 1 && exit 3"}, behaviour{runFor: time.Second, exitCode: 3, output: []string{"hello"}}},
		{[]string{"sh", "-c", "echo started; httpd -f"}, behaviour{forever: true, output: []string{"started"}}},
		{[]string{"sleep", "infinity"}, behaviour{forever: true}},
	}
	for _, tc := range cases {
		got := plan(tc.argv)
		if got.forever != tc.want.forever || got.runFor != tc.want.runFor || got.exitCode != tc.want.exitCode || len(got.output) != len(tc.want.output) {
			t.Errorf("plan(%q) = %+v, want %+v", tc.argv, got, tc.want)
		}
	}
}

func TestSandboxAddresses(t *testing.T) {
	ctx := context.Background()
	r := New(clock.RealClock{}, 0)
	pod := func(uid string) runtime.PodRef {
		return runtime.PodRef{UID: types.UID(uid), Namespace: "ns", Name: uid}
	}
	if _, err := r.StartSandbox(ctx, pod("a")); err == nil {
		t.Fatal("a sandbox started before the node had a pod CIDR")
	}
	if err := r.SetPodCIDR(ctx, "10.244.3.0/30"); err != nil {
		t.Fatal(err)
	}
	first, err := r.StartSandbox(ctx, pod("a"))
	if err != nil || first[0] != "10.244.3.2" {
		t.Fatalf("first address %v %v, want 10.244.3.2 (after the gateway's)", first, err)
	}
	if again, _ := r.StartSandbox(ctx, pod("a")); again[0] != first[0] {
		t.Fatalf("a sandbox started again got %v, want its address %v", again, first)
	}
	if _, err := r.StartSandbox(ctx, pod("b")); err == nil {
		t.Fatal("a /30 has one pod address, and the second pod got one too")
	}
	if err := r.StopSandbox(ctx, pod("a")); err != nil {
		t.Fatal(err)
	}
	if reused, err := r.StartSandbox(ctx, pod("b")); err != nil || reused[0] != "10.244.3.2" {
		t.Fatalf("a released address is not reused: %v %v", reused, err)
	}
}
