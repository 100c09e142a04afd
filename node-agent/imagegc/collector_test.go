package imagegc

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/kybern/kybern/node-agent/runtime"
)

// fakeRuntime holds images and containers; deleting an image frees its size on fs.
type fakeRuntime struct {
	images     []Image
	containers []runtime.Container
	fs         *fakeFs
	removed    []string
}

func (f *fakeRuntime) ListImages(context.Context) ([]Image, error) {
	return slices.Clone(f.images), nil
}
func (f *fakeRuntime) Containers(context.Context) ([]runtime.Container, error) {
	return slices.Clone(f.containers), nil
}
func (f *fakeRuntime) RemoveImage(_ context.Context, id string) error {
	f.images = slices.DeleteFunc(f.images, func(img Image) bool {
		if img.ID == id {
			f.fs.available += img.Size
			return true
		}
		return false
	})
	f.removed = append(f.removed, id)
	return nil
}

type fakeFs struct{ available, capacity int64 }

func (f *fakeFs) Usage() (int64, int64, error) { return f.available, f.capacity, nil }

func uses(ids ...string) []runtime.Container {
	var out []runtime.Container
	for _, id := range ids {
		out = append(out, runtime.Container{ID: "c-" + id, ImageID: id, State: runtime.StateExited})
	}
	return out
}

// step is one thing that happens to the node before a collection.
type step struct {
	after      time.Duration
	add        []Image
	containers []runtime.Container
}

func TestGarbageCollect(t *testing.T) {
	const gi = int64(1) << 30
	img := func(id string, gib int64) Image { return Image{ID: id, Size: gib * gi} }
	for _, tc := range []struct {
		name string
		// available is what the 100 GiB filesystem has free at the last collection.
		available int64
		policy    Policy
		steps     []step
		want      []string
		wantErr   string
	}{{
		name: "used 90%, high 85, low 80: the least recently used go until 20 GiB are free",
		// a used 3 min ago, b 1 min ago, c never since detection: c, a, then b would be next.
		available: 10 * gi,
		policy:    DefaultPolicy,
		steps: []step{
			{add: []Image{img("a", 4), img("b", 4), img("c", 4), img("d", 4)}, containers: uses("a", "b", "d")},
			{after: 2 * time.Minute, containers: uses("b", "d")},
			{after: 2 * time.Minute, containers: uses("d")},
		},
		want: []string{"c", "a", "b"},
	}, {
		name:      "below the high threshold nothing goes",
		available: 16 * gi,
		policy:    DefaultPolicy,
		steps:     []step{{add: []Image{img("a", 4)}}, {after: time.Hour}},
	}, {
		name:      "exactly at the high threshold collects, as upstream",
		available: 15 * gi,
		policy:    DefaultPolicy,
		steps:     []step{{add: []Image{img("a", 4), img("b", 4)}}, {after: time.Hour}},
		want:      []string{"a", "b"},
	}, {
		name:      "images younger than the minimum age stay, and collection falls short",
		available: 10 * gi,
		policy:    DefaultPolicy,
		steps:     []step{{add: []Image{img("old", 4)}}, {after: 5 * time.Minute, add: []Image{img("new", 20)}}, {after: time.Minute}},
		want:      []string{"old"},
		wantErr:   "freed 4294967296 bytes of the 10737418240 needed",
	}, {
		name:      "pinned and used images stay",
		available: 1 * gi,
		policy:    DefaultPolicy,
		steps: []step{{add: []Image{{ID: "pinned", Size: 50 * gi, Pinned: true}, img("used", 30), img("free", 1)}, containers: uses("used")},
			{after: time.Hour, containers: uses("used")}},
		want:    []string{"free"},
		wantErr: "freed",
	}, {
		name:      "a maximum age deletes images unused that long, whatever the usage",
		available: 90 * gi,
		policy:    Policy{HighThresholdPercent: 85, LowThresholdPercent: 80, MinAge: 2 * time.Minute, MaxAge: time.Hour},
		steps: []step{{add: []Image{img("stale", 1), img("recent", 1)}, containers: uses("recent")},
			{after: 61 * time.Minute, containers: uses("recent")}, {after: time.Minute}},
		want: []string{"stale"},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			clk := clocktesting.NewFakeClock(time.Unix(1_000_000, 0))
			fs := &fakeFs{available: 100 * gi, capacity: 100 * gi}
			rt := &fakeRuntime{fs: fs}
			c := New(tc.policy, rt, fs, clk, logr.Discard())
			for _, s := range tc.steps {
				clk.Step(s.after)
				rt.images, rt.containers = append(rt.images, s.add...), s.containers
				if err := c.detect(t.Context()); err != nil {
					t.Fatal(err)
				}
			}
			fs.available = tc.available
			err := c.GarbageCollect(t.Context())
			if !slices.Equal(rt.removed, tc.want) {
				t.Errorf("deleted %v, want %v", rt.removed, tc.want)
			}
			switch {
			case tc.wantErr == "" && err != nil:
				t.Errorf("error %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Errorf("error %v, want one with %q", err, tc.wantErr)
			}
		})
	}
}

// DeleteUnusedImages, as eviction asks, deletes every unused image old enough, whatever
// the thresholds, and keeps pinned ones.
func TestDeleteUnusedImages(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Unix(1_000_000, 0))
	fs := &fakeFs{available: 99, capacity: 100}
	rt := &fakeRuntime{fs: fs, images: []Image{{ID: "a", Size: 1}, {ID: "b", Size: 1}, {ID: "pinned", Pinned: true}, {ID: "used"}}, containers: uses("used")}
	c := New(Policy{HighThresholdPercent: 100, LowThresholdPercent: 80, MinAge: time.Minute}, rt, fs, clk, logr.Discard())
	if err := c.DeleteUnusedImages(t.Context()); err != nil || len(rt.removed) > 0 {
		t.Fatalf("first sight: deleted %v (err %v), want none younger than the minimum age", rt.removed, err)
	}
	clk.Step(time.Minute)
	if err := c.DeleteUnusedImages(t.Context()); err != nil {
		t.Fatal(err)
	}
	if want := []string{"a", "b"}; !slices.Equal(rt.removed, want) {
		t.Errorf("deleted %v, want %v", rt.removed, want)
	}
}

func TestPolicyValidate(t *testing.T) {
	for _, tc := range []struct {
		name    string
		policy  Policy
		wantErr string
	}{
		{name: "defaults", policy: DefaultPolicy},
		{name: "high 100 turns periodic collection off", policy: Policy{HighThresholdPercent: 100, LowThresholdPercent: 80}},
		{name: "high above 100", policy: Policy{HighThresholdPercent: 101, LowThresholdPercent: 80}, wantErr: "--image-gc-high-threshold=101: must be between 0 and 100"},
		{name: "low negative", policy: Policy{HighThresholdPercent: 85, LowThresholdPercent: -1}, wantErr: "--image-gc-low-threshold=-1: must be between 0 and 100"},
		{name: "low equal to high", policy: Policy{HighThresholdPercent: 80, LowThresholdPercent: 80}, wantErr: "--image-gc-low-threshold=80: must be less than --image-gc-high-threshold=80"},
		{name: "low above high", policy: Policy{HighThresholdPercent: 70, LowThresholdPercent: 80}, wantErr: "must be less than --image-gc-high-threshold=70"},
		{name: "maximum age negative", policy: Policy{HighThresholdPercent: 85, LowThresholdPercent: 80, MaxAge: -time.Second}, wantErr: "--image-maximum-gc-age=-1s: must not be negative"},
		{name: "maximum age not above the minimum", policy: Policy{HighThresholdPercent: 85, LowThresholdPercent: 80, MinAge: time.Hour, MaxAge: time.Hour},
			wantErr: "--image-maximum-gc-age=1h0m0s: must be greater than --minimum-image-ttl-duration=1h0m0s"},
	} {
		err := tc.policy.Validate()
		switch {
		case tc.wantErr == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("%s: error %v, want one with %q", tc.name, err, tc.wantErr)
		}
	}
	if DefaultPolicy.periodic() == false || (Policy{HighThresholdPercent: 100}).periodic() {
		t.Error("only a high threshold of 100 turns periodic collection off")
	}
}
