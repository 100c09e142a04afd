package eviction

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	testingclock "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"

	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
)

const mi = 1 << 20

func mustThresholds(t *testing.T, s string) []Threshold {
	t.Helper()
	th, err := ParseThresholds("eviction-hard", s)
	if err != nil {
		t.Fatal(err)
	}
	return th
}

func TestConditionsHoldForTheTransitionPeriod(t *testing.T) {
	hard := mustThresholds(t, "memory.available<100Mi,nodefs.available<10%,pid.available<1000")
	start := time.Unix(1_000_000, 0)
	low := Observations{MemoryAvailable: {Available: 50 * mi, Capacity: 1024 * mi}, NodeFsAvailable: {Available: 50, Capacity: 1000}, PIDAvailable: {Available: 5000, Capacity: 32768}}
	fine := Observations{MemoryAvailable: {Available: 500 * mi, Capacity: 1024 * mi}, NodeFsAvailable: {Available: 500, Capacity: 1000}, PIDAvailable: {Available: 5000, Capacity: 32768}}
	pids := Observations{PIDAvailable: {Available: 10, Capacity: 32768}}
	c := conditions{transitionPeriod: 5 * time.Minute}
	for _, step := range []struct {
		at   time.Duration
		obs  Observations
		want Pressure
	}{
		{0, fine, Pressure{}},
		{10 * time.Second, low, Pressure{Memory: true, Disk: true}},
		{20 * time.Second, fine, Pressure{Memory: true, Disk: true}},
		{10*time.Second + 5*time.Minute - time.Second, fine, Pressure{Memory: true, Disk: true}},
		{10*time.Second + 5*time.Minute, fine, Pressure{}},
		{6 * time.Minute, pids, Pressure{PID: true}},
		{6*time.Minute + 10*time.Second, Observations{}, Pressure{PID: true}},
	} {
		if got := c.observe(met(hard, step.obs, false), start.Add(step.at)); got != step.want {
			t.Errorf("at %s: pressure %+v, want %+v", step.at, got, step.want)
		}
	}
	zero := conditions{}
	if got := zero.observe(met(hard, low, false), start); got != (Pressure{Memory: true, Disk: true}) {
		t.Errorf("no transition period: pressure %+v while crossed", got)
	}
}

func pod(name string, prio int32, memReq string) *corev1alpha1.Pod {
	p := &corev1alpha1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name, UID: types.UID(name)}}
	c := corev1.Container{Name: "c"}
	if memReq != "" {
		c.Resources.Requests = corev1.ResourceList{corev1.ResourceMemory: resource.MustParse(memReq), corev1.ResourceEphemeralStorage: resource.MustParse(memReq)}
	}
	p.Spec.Containers, p.Spec.Priority = []corev1.Container{c}, ptr.To(prio)
	return p
}

func TestRank(t *testing.T) {
	mem := func(n int64) PodUsage { return PodUsage{Memory: n * mi, Logs: map[string]int64{"c": n * mi}} }
	for _, tc := range []struct {
		name  string
		pods  []*corev1alpha1.Pod
		usage map[types.UID]PodUsage
		res   corev1.ResourceName
		want  string
	}{
		{name: "over requests first, whatever the priority", res: corev1.ResourceMemory,
			pods:  []*corev1alpha1.Pod{pod("under-low", 0, "500Mi"), pod("over-high", 1000, "10Mi")},
			usage: map[types.UID]PodUsage{"under-low": mem(100), "over-high": mem(20)}, want: "over-high,under-low"},
		{name: "then lower priority", res: corev1.ResourceMemory,
			pods:  []*corev1alpha1.Pod{pod("high", 1000, ""), pod("low", -5, ""), pod("mid", 0, "")},
			usage: map[types.UID]PodUsage{"high": mem(300), "low": mem(10), "mid": mem(100)}, want: "low,mid,high"},
		{name: "then most above requests", res: corev1.ResourceMemory,
			pods:  []*corev1alpha1.Pod{pod("a", 0, "100Mi"), pod("b", 0, ""), pod("c", 0, "10Mi")},
			usage: map[types.UID]PodUsage{"a": mem(300), "b": mem(150), "c": mem(400)}, want: "c,a,b"},
		{name: "unmeasured first", res: corev1.ResourceMemory,
			pods:  []*corev1alpha1.Pod{pod("measured", 0, ""), pod("unmeasured", 1000, "")},
			usage: map[types.UID]PodUsage{"measured": mem(300)}, want: "unmeasured,measured"},
		{name: "disk by emptyDirs and logs", res: corev1.ResourceEphemeralStorage,
			pods:  []*corev1alpha1.Pod{pod("logs", 0, ""), pod("emptydir", 0, "")},
			usage: map[types.UID]PodUsage{"logs": mem(10), "emptydir": {Memory: mi, EmptyDirs: map[string]int64{"scratch": 50 * mi}}},
			want:  "emptydir,logs"},
	} {
		rank(tc.pods, tc.usage, tc.res)
		var names []string
		for _, p := range tc.pods {
			names = append(names, p.Name)
		}
		if got := strings.Join(names, ","); got != tc.want {
			t.Errorf("%s: ranked %s, want %s", tc.name, got, tc.want)
		}
	}
}

func TestLocalStorageViolation(t *testing.T) {
	withLimits := func(emptyDirLimit, containerLimit string) *corev1alpha1.Pod {
		p := pod("p", 0, "")
		p.Spec.Volumes = []corev1.Volume{{Name: "scratch", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}}
		if emptyDirLimit != "" {
			p.Spec.Volumes[0].EmptyDir.SizeLimit = ptr.To(resource.MustParse(emptyDirLimit))
		}
		if containerLimit != "" {
			p.Spec.Containers[0].Resources.Limits = corev1.ResourceList{corev1.ResourceEphemeralStorage: resource.MustParse(containerLimit)}
		}
		return p
	}
	usage := PodUsage{EmptyDirs: map[string]int64{"scratch": 30 * mi}, Logs: map[string]int64{"c": 5 * mi}}
	for _, tc := range []struct {
		name string
		pod  *corev1alpha1.Pod
		u    PodUsage
		want string
	}{
		{"no limits", withLimits("", ""), usage, ""},
		{"within limits", withLimits("40Mi", "50Mi"), usage, ""},
		{"emptyDir over its sizeLimit", withLimits("20Mi", "1Gi"), usage, `Usage of EmptyDir volume "scratch" exceeds the limit "20Mi". `},
		{"pod over its containers' limit", withLimits("", "32Mi"), usage, "Pod ephemeral local storage usage exceeds the total limit of containers 32Mi. "},
		{"memory emptyDir not counted against sizeLimit", func() *corev1alpha1.Pod {
			p := withLimits("1Mi", "")
			p.Spec.Volumes[0].EmptyDir.Medium = corev1.StorageMediumMemory
			return p
		}(), usage, ""},
	} {
		if got := localStorageViolation(tc.pod, tc.u); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}

type fakeSignals struct{ obs Observations }

func (f *fakeSignals) Measure(context.Context) (Observations, error) { return f.obs, nil }

type fakeUsage map[types.UID]PodUsage

func (f fakeUsage) Usage(context.Context, []*corev1alpha1.Pod) (map[types.UID]PodUsage, error) {
	return f, nil
}

type fakePods struct {
	active  []*corev1alpha1.Pod
	evicted map[types.UID]string
	grace   map[types.UID]time.Duration
}

func newFakePods(active ...*corev1alpha1.Pod) *fakePods {
	return &fakePods{active: active, evicted: map[types.UID]string{}, grace: map[types.UID]time.Duration{}}
}

func (f *fakePods) Active() []*corev1alpha1.Pod {
	var out []*corev1alpha1.Pod
	for _, p := range f.active {
		if _, gone := f.evicted[p.UID]; !gone {
			out = append(out, p)
		}
	}
	return out
}

func (f *fakePods) Evict(p *corev1alpha1.Pod, msg string, grace time.Duration) bool {
	if _, done := f.evicted[p.UID]; done {
		return false
	}
	f.evicted[p.UID], f.grace[p.UID] = msg, grace
	return true
}

func TestSynchronizeEvictsOnePodARound(t *testing.T) {
	signals := &fakeSignals{obs: Observations{MemoryAvailable: {Available: 60 * mi, Capacity: 1024 * mi}}}
	critical := pod("critical", systemCriticalPriority, "")
	pods := newFakePods(pod("hog", 0, "10Mi"), pod("modest", 0, "500Mi"), critical)
	usage := fakeUsage{"hog": {Memory: 400 * mi, ContainerMemory: map[string]int64{"c": 400 * mi}}, "modest": {Memory: 100 * mi}, "critical": {Memory: 900 * mi}}
	changes := 0
	clk := testingclock.NewFakeClock(time.Unix(1_000_000, 0))
	m := NewManager(Config{Thresholds: mustThresholds(t, "memory.available<100Mi"), TransitionPeriod: time.Minute, Signals: signals, Usage: usage,
		Clock: clk, Log: logr.Discard()})
	m.OnPressureChanged(func() { changes++ })

	if got := m.synchronize(context.Background(), pods); got == nil || got.Name != "hog" {
		t.Fatalf("first round evicted %v, want hog", got)
	}
	want := "The node was low on resource: memory. Threshold quantity: 100Mi, available: 60Mi. Container c was using 400Mi, request is 10Mi, has larger consumption of memory. "
	if pods.evicted["hog"] != want || pods.grace["hog"] != time.Second {
		t.Errorf("message %q, grace %s; want %q, 1s as for every hard threshold", pods.evicted["hog"], pods.grace["hog"], want)
	}
	if !m.Pressure().Memory || changes != 1 {
		t.Errorf("pressure %+v after %d changes, want MemoryPressure once", m.Pressure(), changes)
	}
	if got := m.synchronize(context.Background(), pods); got == nil || got.Name != "modest" {
		t.Fatalf("second round evicted %v, want modest", got)
	}
	if got := m.synchronize(context.Background(), pods); got != nil {
		t.Fatalf("third round evicted %s: a critical pod is never evicted", got.Name)
	}
	signals.obs = Observations{MemoryAvailable: {Available: 600 * mi, Capacity: 1024 * mi}}
	clk.Step(time.Minute)
	m.synchronize(context.Background(), pods)
	if m.Pressure().Memory || changes != 2 {
		t.Errorf("pressure %+v after the transition period, %d changes", m.Pressure(), changes)
	}
}

func TestSynchronizeEvictsAPodOverItsLimitWithoutPressure(t *testing.T) {
	p := pod("writer", 0, "")
	p.Spec.Containers[0].Resources.Limits = corev1.ResourceList{corev1.ResourceEphemeralStorage: resource.MustParse("1Mi")}
	pods := newFakePods(p, pod("other", 0, ""))
	m := NewManager(Config{Thresholds: mustThresholds(t, DefaultHard), Signals: &fakeSignals{obs: Observations{}}, Log: logr.Discard(),
		Usage: fakeUsage{"writer": {Logs: map[string]int64{"c": 2 * mi}}, "other": {}}, Clock: testingclock.NewFakeClock(time.Unix(0, 0))})
	if got := m.synchronize(context.Background(), pods); got == nil || got.Name != "writer" || len(pods.evicted) != 1 {
		t.Fatalf("evicted %v (%v), want writer alone", got, pods.evicted)
	}
	if m.Pressure() != (Pressure{}) {
		t.Errorf("pressure %+v without a crossed threshold", m.Pressure())
	}
}
