package eviction

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	testingclock "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"

	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
)

func TestCombine(t *testing.T) {
	for _, tc := range []struct {
		name                     string
		hard, soft, grace, recl  string
		want                     []string // signal<amount/grace/minReclaim
		wantErr, wantErrNamesFlg string
	}{
		{name: "soft with its grace period", hard: "memory.available<100Mi", soft: "memory.available<500Mi", grace: "memory.available=1m30s",
			want: []string{"memory.available<100Mi/0s/-", "memory.available<500Mi/1m30s/-"}},
		{name: "minimum reclaim on hard and soft of its signal", hard: "memory.available<100Mi,nodefs.available<10%", soft: "memory.available<500Mi",
			grace: "memory.available=1m", recl: "memory.available=50Mi, nodefs.available=5%",
			want: []string{"memory.available<100Mi/0s/50Mi", "nodefs.available<10%/0s/5%", "memory.available<500Mi/1m0s/50Mi"}},
		{name: "grace period and reclaim of a signal without threshold do nothing", hard: "memory.available<100Mi", grace: "pid.available=1m", recl: "pid.available=100",
			want: []string{"memory.available<100Mi/0s/-"}},
		{name: "soft without grace period", soft: "memory.available<500Mi,nodefs.available<15%", grace: "memory.available=1m",
			wantErr: "nodefs.available<15% has no grace period", wantErrNamesFlg: "--eviction-soft-grace-period"},
		{name: "negative grace period", soft: "memory.available<500Mi", grace: "memory.available=-1m",
			wantErr: "must not be negative", wantErrNamesFlg: "--eviction-soft-grace-period"},
		{name: "no duration", soft: "memory.available<500Mi", grace: "memory.available=soon",
			wantErr: "no duration", wantErrNamesFlg: "--eviction-soft-grace-period"},
		{name: "grace period without signal", grace: "1m", wantErr: "write signal=value", wantErrNamesFlg: "--eviction-soft-grace-period"},
		{name: "unknown signal's grace period", grace: "memory.free=1m", wantErr: "unsupported eviction signal", wantErrNamesFlg: "--eviction-soft-grace-period"},
		{name: "grace period twice", grace: "memory.available=1m,memory.available=2m", wantErr: "given twice", wantErrNamesFlg: "--eviction-soft-grace-period"},
		{name: "negative reclaim", recl: "memory.available=-1Mi", wantErr: "must not be negative", wantErrNamesFlg: "--eviction-minimum-reclaim"},
		{name: "zero percent reclaim", recl: "nodefs.available=0%", wantErr: "more than 0%", wantErrNamesFlg: "--eviction-minimum-reclaim"},
		{name: "reclaim no quantity", recl: "nodefs.available=lots", wantErr: "neither a quantity", wantErrNamesFlg: "--eviction-minimum-reclaim"},
	} {
		got, err := Combine(mustThresholds(t, tc.hard), mustThresholds(t, tc.soft), tc.grace, tc.recl)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !strings.Contains(err.Error(), tc.wantErrNamesFlg) {
				t.Errorf("%s: error %v, want one naming %s with %q", tc.name, err, tc.wantErrNamesFlg, tc.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		var strs []string
		for _, th := range got {
			r := "-"
			if th.MinReclaim != nil {
				r = th.MinReclaim.String()
			}
			strs = append(strs, th.String()+"/"+th.GracePeriod.String()+"/"+r)
		}
		if strings.Join(strs, ",") != strings.Join(tc.want, ",") {
			t.Errorf("%s: %v, want %v", tc.name, strs, tc.want)
		}
	}
}

func TestEvictionGracePeriod(t *testing.T) {
	hard := Threshold{Signal: MemoryAvailable}
	soft := Threshold{Signal: MemoryAvailable, GracePeriod: time.Minute}
	withGrace := func(s *int64) *corev1alpha1.Pod {
		p := pod("p", 0, "")
		p.Spec.TerminationGracePeriodSeconds = s
		return p
	}
	for _, tc := range []struct {
		name string
		t    Threshold
		max  time.Duration
		pod  *corev1alpha1.Pod
		want time.Duration
	}{
		{"hard: 1 s whatever the pod's", hard, time.Hour, withGrace(ptr.To[int64](30)), time.Second},
		{"soft: the pod's when shorter", soft, 20 * time.Second, withGrace(ptr.To[int64](10)), 10 * time.Second},
		{"soft: the maximum when shorter", soft, 20 * time.Second, withGrace(ptr.To[int64](60)), 20 * time.Second},
		{"soft: the maximum without the pod's", soft, 20 * time.Second, withGrace(nil), 20 * time.Second},
		{"soft: the default maximum 0 gives the 1 s floor", soft, 0, withGrace(ptr.To[int64](30)), time.Second},
		{"soft: a pod's 0 gives the 1 s floor", soft, 20 * time.Second, withGrace(ptr.To[int64](0)), time.Second},
	} {
		m := NewManager(Config{MaxPodGracePeriod: tc.max})
		if got := m.grace(tc.pod, tc.t); got != tc.want {
			t.Errorf("%s: %s, want %s", tc.name, got, tc.want)
		}
	}
}

// round is one synchronize of a table test: at is the time since the start, avail what
// its signal has available; whether it evicts the round's pod, with grace, and the
// pressure that holds after it.
type round struct {
	at       time.Duration
	avail    int64
	evicts   bool
	grace    time.Duration
	pressure bool
}

// runRounds evicts from a fresh pod for every round, so that each round's eviction is
// seen apart; signal's capacity is 1 GiB.
func runRounds(t *testing.T, name string, thresholds []Threshold, signal Signal, maxGrace time.Duration, rounds []round) {
	t.Helper()
	start := time.Unix(1_000_000, 0)
	clk := testingclock.NewFakeClock(start)
	sig := &fakeSignals{}
	m := NewManager(Config{Thresholds: thresholds, MaxPodGracePeriod: maxGrace, Signals: sig, Usage: fakeUsage{}, Clock: clk, Log: logr.Discard()})
	for i, r := range rounds {
		p := pod("p", 0, "")
		p.Spec.TerminationGracePeriodSeconds = ptr.To[int64](30)
		pods := newFakePods(p)
		clk.SetTime(start.Add(r.at))
		sig.obs = Observations{signal: {Available: r.avail, Capacity: 1024 * mi}}
		got := m.synchronize(context.Background(), pods)
		switch {
		case !r.evicts && got != nil:
			t.Errorf("%s: round %d at %s evicted %s, want none", name, i, r.at, got.Name)
		case r.evicts && got == nil:
			t.Errorf("%s: round %d at %s evicted none, want one", name, i, r.at)
		case got != nil && pods.grace[got.UID] != r.grace:
			t.Errorf("%s: round %d at %s evicted with grace %s, want %s", name, i, r.at, pods.grace[got.UID], r.grace)
		}
		if p := m.Pressure(); p.Memory != r.pressure && signal == MemoryAvailable {
			t.Errorf("%s: round %d at %s: MemoryPressure %v, want %v", name, i, r.at, p.Memory, r.pressure)
		}
	}
}

func combined(t *testing.T, hard, soft, grace, reclaim string) []Threshold {
	t.Helper()
	th, err := Combine(mustThresholds(t, hard), mustThresholds(t, soft), grace, reclaim)
	if err != nil {
		t.Fatal(err)
	}
	return th
}

// A soft threshold makes its pressure condition at once, as upstream's, but evicts only
// once it has been crossed for its grace period, which restarts when it is not crossed
// for a round; a hard one evicts at once with 1 s.
func TestSoftThresholdsEvictAfterTheirGracePeriod(t *testing.T) {
	th := combined(t, "memory.available<100Mi", "memory.available<500Mi", "memory.available=1m", "")
	runRounds(t, "soft", th, MemoryAvailable, 20*time.Second, []round{
		{at: 0, avail: 400 * mi, pressure: true},
		{at: 30 * time.Second, avail: 400 * mi, pressure: true},
		{at: 50 * time.Second, avail: 400 * mi, pressure: true},
		{at: time.Minute, avail: 400 * mi, evicts: true, grace: 20 * time.Second, pressure: true},
		{at: 70 * time.Second, avail: 400 * mi, evicts: true, grace: 20 * time.Second, pressure: true},
		{at: 80 * time.Second, avail: 600 * mi},
		{at: 90 * time.Second, avail: 400 * mi, pressure: true},
		{at: 140 * time.Second, avail: 400 * mi, pressure: true},
		{at: 150 * time.Second, avail: 400 * mi, evicts: true, grace: 20 * time.Second, pressure: true},
		{at: 160 * time.Second, avail: 50 * mi, evicts: true, grace: time.Second, pressure: true},
	})
}

// Once a threshold drove eviction, it goes on counting, pressure and evictions, until
// its signal is back above it by the minimum reclaim, as upstream's; a threshold that did
// not count last round counts again only when crossed itself.
func TestMinimumReclaimHoldsPressureUntilReclaimed(t *testing.T) {
	runRounds(t, "hard", combined(t, "memory.available<100Mi", "", "", "memory.available=50Mi"), MemoryAvailable, 0, []round{
		{at: 0, avail: 90 * mi, evicts: true, grace: time.Second, pressure: true},
		{at: 10 * time.Second, avail: 120 * mi, evicts: true, grace: time.Second, pressure: true},
		{at: 20 * time.Second, avail: 149 * mi, evicts: true, grace: time.Second, pressure: true},
		{at: 30 * time.Second, avail: 150 * mi},
		{at: 40 * time.Second, avail: 120 * mi},
		{at: 50 * time.Second, avail: 99 * mi, evicts: true, grace: time.Second, pressure: true},
	})
	// A soft threshold counts for minimum reclaim only once past its grace period.
	runRounds(t, "soft", combined(t, "", "memory.available<500Mi", "memory.available=20s", "memory.available=100Mi"), MemoryAvailable, 0, []round{
		{at: 0, avail: 450 * mi, pressure: true},
		{at: 10 * time.Second, avail: 550 * mi},
		{at: 20 * time.Second, avail: 450 * mi, pressure: true},
		{at: 40 * time.Second, avail: 450 * mi, evicts: true, grace: time.Second, pressure: true},
		{at: 50 * time.Second, avail: 550 * mi, evicts: true, grace: time.Second, pressure: true},
		{at: 60 * time.Second, avail: 600 * mi},
	})
}

// fakeImages frees what the images take when asked to delete them.
type fakeImages struct {
	signals *fakeSignals
	freed   Observations
	err     error
	calls   int
}

func (f *fakeImages) DeleteUnusedImages(context.Context) error {
	f.calls++
	for s, o := range f.freed {
		f.signals.obs[s] = o
	}
	return f.err
}

// Under disk pressure the manager deletes unused images and measures again before it
// evicts a pod, as upstream's: when that relieves every threshold beyond its minimum
// reclaim, no pod is evicted. Only imagefs pressure deletes images when they are on a
// filesystem of their own.
func TestUnusedImagesAreDeletedBeforeAPodIsEvicted(t *testing.T) {
	const gi = 1024 * mi
	low := Observation{Available: 5 * gi / 100, Capacity: gi}
	freedPlenty := Observation{Available: 50 * gi / 100, Capacity: gi}
	freedLittle := Observation{Available: 11 * gi / 100, Capacity: gi}
	for _, tc := range []struct {
		name      string
		dedicated bool
		signal    Signal
		freed     Observation
		err       error
		wantCalls int
		wantEvict bool
	}{
		{name: "nodefs, images on it, relieved", signal: NodeFsAvailable, freed: freedPlenty, wantCalls: 1},
		{name: "imagefs, relieved", signal: ImageFsAvailable, freed: freedPlenty, wantCalls: 1},
		{name: "nodefs inodes, images on it, relieved", signal: NodeFsInodesFree, freed: freedPlenty, wantCalls: 1},
		{name: "above the threshold, short of the minimum reclaim", signal: NodeFsAvailable, freed: freedLittle, wantCalls: 1, wantEvict: true},
		{name: "not relieved", signal: NodeFsAvailable, freed: low, wantCalls: 1, wantEvict: true},
		{name: "deleting failed, yet space freed", signal: NodeFsAvailable, freed: freedPlenty, err: errors.New("containerd is down"), wantCalls: 1},
		{name: "nodefs, images on a filesystem of their own", dedicated: true, signal: NodeFsAvailable, freed: freedPlenty, wantEvict: true},
		{name: "imagefs of its own", dedicated: true, signal: ImageFsAvailable, freed: freedPlenty, wantCalls: 1},
		{name: "memory", signal: MemoryAvailable, freed: freedPlenty, wantEvict: true},
	} {
		th := combined(t, string(tc.signal)+"<10%", "", "", string(tc.signal)+"=5%")
		sig := &fakeSignals{obs: Observations{tc.signal: low}}
		images := &fakeImages{signals: sig, freed: Observations{tc.signal: tc.freed}, err: tc.err}
		m := NewManager(Config{Thresholds: th, Signals: sig, Usage: fakeUsage{}, Images: images, DedicatedImageFs: tc.dedicated,
			Clock: testingclock.NewFakeClock(time.Unix(1_000_000, 0)), Log: logr.Discard()})
		got := m.synchronize(context.Background(), newFakePods(pod("p", 0, "")))
		if images.calls != tc.wantCalls || (got != nil) != tc.wantEvict {
			t.Errorf("%s: deleted images %d times and evicted %v; want %d times and eviction %v", tc.name, images.calls, got, tc.wantCalls, tc.wantEvict)
		}
	}
}
