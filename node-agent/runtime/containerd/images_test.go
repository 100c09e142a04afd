package containerd

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	containerd "github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/core/images"
	"github.com/containerd/containerd/v2/pkg/namespaces"
	"github.com/containerd/containerd/v2/pkg/oci"
	"github.com/containerd/errdefs"
	"github.com/go-logr/logr/testr"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/kybern/kybern/node-agent/imagegc"
)

// fullFs is an image filesystem used to 90 %.
type fullFs struct{}

func (fullFs) Usage() (int64, int64, error) { return 10, 100, nil }

// TestImageGarbageCollection runs a real containerd and the image collector over it: of
// an image a container uses, a pinned (imported) one and an unused one with two names,
// only the unused one goes, every name of it, once older than the minimum age and the
// image filesystem is above the high threshold.
func TestImageGarbageCollection(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("starts containerd: needs root")
	}
	if _, err := exec.LookPath("containerd"); err != nil {
		t.Skip("needs containerd")
	}
	dir := t.TempDir()
	ctx := t.Context()
	e, err := StartEmbedded(ctx, dir, Supervision{Log: testr.New(t), Backoff: Backoff{Initial: time.Second, Max: time.Second, Reset: time.Minute}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Stop() })
	rt, err := New(e.Address, "test", LogDriver{Path: "/bin/true"}, filepath.Join(dir, "net"), Ranges{})
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close()
	ctx = namespaces.WithNamespace(ctx, "test")
	const used, pinned, unused, unusedAlias = "example.com/used:1", "example.com/pinned:1", "example.com/unused:1", "example.com/unused:stable"
	for name, content := range map[string]string{used: used, pinned: pinned, unused: unused, unusedAlias: unused} {
		desc := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: digest.FromString(content), Size: 1}
		if _, err := rt.client.ImageService().Create(ctx, images.Image{Name: name, Target: desc}); err != nil {
			t.Fatal(err)
		}
	}
	rt.preloaded[pinned] = true
	if _, err := rt.client.NewContainer(ctx, "user", containerd.WithImageName(used), containerd.WithSpec(&oci.Spec{}),
		containerd.WithContainerLabels(map[string]string{labelPodUID: "pod", labelName: "c"})); err != nil {
		t.Fatal(err)
	}
	clk := clocktesting.NewFakeClock(time.Now())
	gc := imagegc.New(imagegc.DefaultPolicy, rt, fullFs{}, clk, testr.New(t))
	present := func(ctx context.Context, name string) bool {
		_, err := rt.client.ImageService().Get(ctx, name)
		if err != nil && !errdefs.IsNotFound(err) {
			t.Fatal(err)
		}
		return err == nil
	}
	if err := gc.GarbageCollect(ctx); err == nil {
		t.Error("GarbageCollect freed enough with every image younger than the minimum age")
	}
	if !present(ctx, unused) {
		t.Fatal("an image younger than the minimum age was deleted")
	}
	clk.Step(imagegc.DefaultPolicy.MinAge)
	// The images have no content, so they take 0 bytes: the collector deletes every one
	// it may and still reports it fell short.
	_ = gc.GarbageCollect(ctx)
	for name, want := range map[string]bool{used: true, pinned: true, unused: false, unusedAlias: false} {
		if got := present(ctx, name); got != want {
			t.Errorf("%s present %v after collection, want %v", name, got, want)
		}
	}
}
