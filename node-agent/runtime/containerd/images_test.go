package containerd

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
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
)

func TestUnusedImages(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	old := now.Add(-time.Hour)
	img := func(name, content string, created time.Time) images.Image {
		return images.Image{Name: name, CreatedAt: created, Target: ocispec.Descriptor{Digest: digest.FromString(content)}}
	}
	imgs := []images.Image{
		img("docker.io/library/nginx:1", "nginx", old),
		img("docker.io/library/nginx:stable", "nginx", old),
		img("docker.io/library/redis:7", "redis", old),
		img("docker.io/library/busybox:latest", "busybox", old),
		img("docker.io/library/httpd:2", "httpd", now.Add(-time.Minute)),
		img("docker.io/library/alpine:3", "alpine", now.Add(-minimumImageAge)),
	}
	for _, tc := range []struct {
		name   string
		used   []string
		pinned map[string]bool
		want   []string
	}{
		{name: "nothing used: all old enough", want: []string{"docker.io/library/nginx:1", "docker.io/library/nginx:stable", "docker.io/library/redis:7", "docker.io/library/busybox:latest", "docker.io/library/alpine:3"}},
		{name: "a used name keeps its content's other names", used: []string{"docker.io/library/nginx:stable"}, pinned: map[string]bool{"docker.io/library/busybox:latest": true},
			want: []string{"docker.io/library/redis:7", "docker.io/library/alpine:3"}},
		{name: "a container of an image gone keeps nothing", used: []string{"docker.io/library/gone:1"}, pinned: map[string]bool{"docker.io/library/busybox:latest": true, "docker.io/library/redis:7": true, "docker.io/library/alpine:3": true},
			want: []string{"docker.io/library/nginx:1", "docker.io/library/nginx:stable"}},
	} {
		if got := unusedImages(imgs, tc.used, tc.pinned, now.Add(-minimumImageAge)); !slices.Equal(got, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestDeleteUnusedImages runs a real containerd: of an image a container uses, a pinned
// (imported) one and an unused one, only the unused one goes.
func TestDeleteUnusedImages(t *testing.T) {
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
	const used, pinned, unused = "example.com/used:1", "example.com/pinned:1", "example.com/unused:1"
	for _, name := range []string{used, pinned, unused} {
		desc := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: digest.FromString(name), Size: 1}
		if _, err := rt.client.ImageService().Create(ctx, images.Image{Name: name, Target: desc}); err != nil {
			t.Fatal(err)
		}
	}
	rt.preloaded[pinned] = true
	if _, err := rt.client.NewContainer(ctx, "user", containerd.WithImageName(used), containerd.WithSpec(&oci.Spec{})); err != nil {
		t.Fatal(err)
	}

	rt.imageMinAge = time.Hour
	if err := rt.DeleteUnusedImages(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := rt.client.ImageService().Get(ctx, unused); err != nil {
		t.Fatalf("an image younger than the minimum age was deleted: %v", err)
	}
	rt.imageMinAge = 0
	if err := rt.DeleteUnusedImages(ctx); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]bool{used: true, pinned: true, unused: false} {
		_, err := rt.client.ImageService().Get(ctx, name)
		if err != nil && !errdefs.IsNotFound(err) {
			t.Fatal(err)
		}
		if present := err == nil; present != want {
			t.Errorf("%s present %v after DeleteUnusedImages, want %v", name, present, want)
		}
	}
}
