package metricsserver

import (
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

var t0 = time.Unix(1_700_000_000, 0)

func TestParseReadsTheKubeletsResourceMetrics(t *testing.T) {
	text := `# HELP node_cpu_usage_seconds_total Cumulative cpu time consumed by the node in core-seconds
# TYPE node_cpu_usage_seconds_total counter
node_cpu_usage_seconds_total 12.5 1700000000000
# TYPE node_memory_working_set_bytes gauge
node_memory_working_set_bytes 2.097152e+06 1700000000000
# TYPE container_cpu_usage_seconds_total counter
container_cpu_usage_seconds_total{container="web",namespace="ns",pod="p"} 0.25 1700000001000
container_cpu_usage_seconds_total{container="sidecar",namespace="ns",pod="p"} 1 1700000001000
# TYPE container_memory_working_set_bytes gauge
container_memory_working_set_bytes{container="web",namespace="ns",pod="p"} 1024 1700000001000
# TYPE container_start_time_seconds gauge
container_start_time_seconds{container="web",namespace="ns",pod="p"} 1.6999999e+09 1700000001000
# TYPE scrape_error gauge
scrape_error 0
`
	s, err := parse(strings.NewReader(text), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if s.Node == nil || s.Node.CPU != 12_500_000_000 || s.Node.Memory != 2<<20 || !s.Node.Time.Equal(t0) {
		t.Errorf("node: got %+v", s.Node)
	}
	web, ok := s.Containers[containerKey{"ns", "p", "web"}]
	if !ok || web.CPU != 250_000_000 || web.Memory != 1024 || !web.Time.Equal(t0.Add(time.Second)) || !web.Start.Equal(time.Unix(1_699_999_900, 0)) {
		t.Errorf("web: got %+v", web)
	}
	if _, ok := s.Containers[containerKey{"ns", "p", "sidecar"}]; ok {
		t.Error("a container without memory was kept")
	}
	if _, err := parse(strings.NewReader("not prometheus {"), time.Now()); err == nil {
		t.Error("garbage parsed")
	}
}

func TestUsage(t *testing.T) {
	start := t0.Add(-time.Hour)
	key := containerKey{"ns", "p", "c"}
	at := func(cpu, mem uint64, d time.Duration, started time.Time) containerPoint {
		return containerPoint{point: point{CPU: cpu, Memory: mem, Time: t0.Add(d)}, Start: started}
	}
	const fresh = 30 * time.Second
	for _, tc := range []struct {
		name       string
		prev, cur  map[containerKey]containerPoint
		wantPod    bool
		wantCPU    string
		wantWindow time.Duration
		wantMemory string
	}{
		{name: "rate between two scrapes", prev: map[containerKey]containerPoint{key: at(1e9, 1<<20, 0, start)},
			cur: map[containerKey]containerPoint{key: at(4e9, 2<<20, 15*time.Second, start)}, wantPod: true, wantCPU: "200m", wantWindow: 15 * time.Second, wantMemory: "2Mi"},
		{name: "first scrape of a long-running container has no rate", cur: map[containerKey]containerPoint{key: at(4e9, 1<<20, 0, start)}},
		{name: "first scrape of a fresh container is rated from its start", cur: map[containerKey]containerPoint{key: at(5e9, 1<<20, 0, t0.Add(-10*time.Second))},
			wantPod: true, wantCPU: "500m", wantWindow: 10 * time.Second, wantMemory: "1Mi"},
		{name: "a restart within the window is rated from the new start", prev: map[containerKey]containerPoint{key: at(9e9, 1<<20, 0, start)},
			cur: map[containerKey]containerPoint{key: at(1e9, 1<<20, 15*time.Second, t0.Add(5*time.Second))}, wantPod: true, wantCPU: "100m", wantWindow: 10 * time.Second, wantMemory: "1Mi"},
		{name: "a counter that went backwards without a known restart gives no rate", prev: map[containerKey]containerPoint{key: at(9e9, 1<<20, 0, time.Time{})},
			cur: map[containerKey]containerPoint{key: at(1e9, 1<<20, 15*time.Second, time.Time{})}},
		{name: "a pod with one container unrated is left out", prev: map[containerKey]containerPoint{key: at(1e9, 1<<20, 0, start)},
			cur: map[containerKey]containerPoint{key: at(4e9, 1<<20, 15*time.Second, start), {"ns", "p", "new"}: at(1e9, 1<<20, 15*time.Second, start)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, pods := usage("n", sample{Containers: tc.prev}, sample{Containers: tc.cur}, fresh)
			if !tc.wantPod {
				if len(pods) != 0 {
					t.Fatalf("got %+v, want no pod", pods)
				}
				return
			}
			if len(pods) != 1 || len(pods[0].Containers) != 1 {
				t.Fatalf("got %+v, want one pod with one container", pods)
			}
			u := pods[0].Containers[0].Usage
			cpu, want := u[corev1.ResourceCPU], resource.MustParse(tc.wantCPU)
			if cpu.MilliValue() != want.MilliValue() {
				t.Errorf("cpu: got %s, want %s", cpu.String(), tc.wantCPU)
			}
			if mem := u[corev1.ResourceMemory]; mem.String() != tc.wantMemory {
				t.Errorf("memory: got %s, want %s", mem.String(), tc.wantMemory)
			}
			if pods[0].Window.Duration != tc.wantWindow {
				t.Errorf("window: got %s, want %s", pods[0].Window.Duration, tc.wantWindow)
			}
		})
	}
}

func TestNodeUsage(t *testing.T) {
	prev := sample{Node: &point{CPU: 10e9, Memory: 1 << 30, Time: t0}}
	cur := sample{Node: &point{CPU: 40e9, Memory: 2 << 30, Time: t0.Add(10 * time.Second)}}
	n, _ := usage("n", prev, cur, time.Minute)
	if n == nil {
		t.Fatal("no node usage")
	}
	if cpu, mem := n.Usage[corev1.ResourceCPU], n.Usage[corev1.ResourceMemory]; cpu.MilliValue() != 3000 || mem.String() != "2Gi" || n.Window.Duration != 10*time.Second {
		t.Errorf("got cpu %s memory %s window %s", cpu.String(), mem.String(), n.Window.Duration)
	}
	if n, _ := usage("n", sample{}, cur, time.Minute); n != nil {
		t.Errorf("one node sample gave usage %+v", n)
	}
}
