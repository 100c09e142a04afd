package containerd

import (
	"slices"
	"testing"
	"time"

	"github.com/containerd/containerd/v2/core/images"
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
		if got := unusedImages(imgs, tc.used, tc.pinned, now); !slices.Equal(got, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}
