package simulated

import (
	"context"
	"testing"
	"time"

	clocktesting "k8s.io/utils/clock/testing"

	"github.com/kybern/kybern/node-agent/runtime"
)

func TestBurnPlanReadsTheCommand(t *testing.T) {
	cases := []struct {
		argv []string
		want burn
	}{
		{[]string{"burn", "300m"}, burn{milli: 300, forever: true}},
		{[]string{"/bin/burn", "1", "90s"}, burn{milli: 1000, duration: 90 * time.Second}},
		{[]string{"burn", "1.5", "5m"}, burn{milli: 1500, duration: 5 * time.Minute}},
		{[]string{"burn"}, burn{}},
		{[]string{"burn", "lots"}, burn{}},
		{[]string{"burn", "-1"}, burn{}},
		{[]string{"burn", "0"}, burn{}},
		{[]string{"burn", "2000"}, burn{}},
		{[]string{"burn", "1", "soon"}, burn{}},
		{[]string{"burn", "1", "-5s"}, burn{}},
		{[]string{"burn", "1", "5s", "64Mi"}, burn{}},
		{[]string{"sh", "-c", "burn 1"}, burn{}},
		{[]string{"sleep", "10"}, burn{}},
	}
	for _, tc := range cases {
		if got := burnPlan(tc.argv); got != tc.want {
			t.Errorf("burnPlan(%q) = %+v, want %+v", tc.argv, got, tc.want)
		}
	}
}

func TestBurnUsed(t *testing.T) {
	start := time.Unix(1_000_000, 0)
	cases := []struct {
		name    string
		b       burn
		running time.Duration
		want    uint64
	}{
		{"300m for 90s of running: 27 core-seconds", burn{milli: 300, forever: true}, 90 * time.Second, 27e9},
		{"1 core for 90s, 2 minutes on: 90 core-seconds, then idle", burn{milli: 1000, duration: 90 * time.Second}, 2 * time.Minute, 90e9},
		{"1500m for 1.5s: 2.25 core-seconds", burn{milli: 1500, forever: true}, 1500 * time.Millisecond, 2_250_000_000},
		{"not running yet", burn{milli: 1000, forever: true}, -time.Second, 0},
		{"no burn", burn{}, time.Hour, 0},
		{"1024 cores for 180 days fits", burn{milli: maxBurnMilli, forever: true}, 180 * 24 * time.Hour, 1024 * 180 * 24 * 3600 * 1e9},
	}
	for _, tc := range cases {
		if got := tc.b.used(start, start.Add(tc.running)); got != tc.want {
			t.Errorf("%s: used = %d, want %d", tc.name, got, tc.want)
		}
	}
}

func TestUsageFollowsTheClock(t *testing.T) {
	ctx := context.Background()
	clk := clocktesting.NewFakeClock(time.Unix(1_000_000, 0))
	r := New(clk, time.Second)
	if err := r.SetPodCIDR(ctx, "10.244.0.0/24"); err != nil {
		t.Fatal(err)
	}
	pod := runtime.PodRef{UID: "uid-1", Namespace: "ns", Name: "web", HostPorts: []runtime.HostPort{{HostPort: 80, ContainerPort: 80}}}
	if _, err := r.StartSandbox(ctx, pod); err != nil {
		t.Fatal(err)
	}
	burner, err := r.StartContainer(ctx, pod, runtime.ContainerSpec{Name: "app", Command: []string{"burn"}, Args: []string{"500m", "1m"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.StartContainer(ctx, pod, runtime.ContainerSpec{Name: "idle", Command: []string{"httpd"}}); err != nil {
		t.Fatal(err)
	}
	if got, _ := r.ContainerStats(ctx); len(got) != 0 {
		t.Fatalf("containers still starting are measured: %+v", got)
	}

	clk.Step(time.Second + 30*time.Second) // start latency, then 30s burning at 500m
	got, err := r.ContainerStats(ctx)
	if err != nil || len(got) != 2 {
		t.Fatalf("ContainerStats = %+v, %v; want both running containers", got, err)
	}
	for _, s := range got {
		want := map[string]uint64{"app": 15e9, "idle": 0}[s.Name]
		if s.CPUUsageNanoseconds != want || s.MemoryWorkingSetBytes != 1<<20 || !s.Timestamp.Equal(clk.Now()) ||
			!s.StartedAt.Equal(time.Unix(1_000_001, 0)) || len(s.Pod.HostPorts) != 0 || s.Pod.Name != "web" {
			t.Errorf("%s: %+v; want %d ns of CPU, 1Mi, measured now, started after the latency, the pod's names only", s.Name, s, want)
		}
	}

	clk.Step(5 * time.Minute) // the burn ended after 1m: 30 core-seconds in all
	node, _ := r.NodeStats(ctx)
	if node.CPUUsageNanoseconds != 30e9 || node.MemoryWorkingSetBytes != 2<<20 {
		t.Errorf("NodeStats = %+v, want 30e9 ns and 2Mi", node)
	}
	if err := r.StopContainer(ctx, burner, 0); err != nil {
		t.Fatal(err)
	}
	if err := r.RemoveContainer(ctx, burner); err != nil {
		t.Fatal(err)
	}
	node, _ = r.NodeStats(ctx)
	if node.CPUUsageNanoseconds != 30e9 || node.MemoryWorkingSetBytes != 1<<20 {
		t.Errorf("after removing the burner NodeStats = %+v; want its 30e9 ns kept (a counter never decreases) and 1Mi", node)
	}
}
