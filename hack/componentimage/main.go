// Command componentimage builds the OCI images of kybern's own components, the manager
// and the node agent, without a Docker daemon: static Go binaries built from this checkout
// (CGO off, -trimpath, no build ID or VCS stamp), each on an empty base with only the files
// it needs, written as an OCI image layout tarball (which `ctr images import` and the node
// agent's --image-dir take) or pushed to a registry with the standard Docker credential
// files. The same checkout and Go toolchain give the same bytes, and so the same digest.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// component is one image: what it is built from and how it runs.
type component struct {
	// binaries are the packages built into /usr/local/bin, by the name of the binary.
	binaries map[string]string
	// entrypoint is the command the image runs.
	entrypoint []string
	// user is the image's user: the manager needs no privilege; the node agent manages
	// containers, mounts and nftables, as root.
	user        string
	description string
}

var components = map[string]component{
	"manager": {
		binaries:    map[string]string{"manager": "."},
		entrypoint:  []string{"/usr/local/bin/manager"},
		user:        "65532:65532",
		description: "kybern's control plane: the controllers, scheduler and admission webhook",
	},
	"node-agent": {
		binaries:    map[string]string{"node-agent": "./node-agent", "kybern-log-driver": "./node-agent/logdriver"},
		entrypoint:  []string{"/usr/local/bin/node-agent"},
		user:        "0:0",
		description: "kybern's node agent: the kubelet and service proxy of one node",
	},
}

func main() {
	which := flag.String("component", "", "The image to build: manager or node-agent.")
	repo := flag.String("repo", "", "The image's name without a tag, such as ghcr.io/example/kybern-manager; default kybern.local/kybern-<component>.")
	version := flag.String("version", "v0.1.0", "The image's tag and its org.opencontainers.image.version label.")
	revision := flag.String("revision", "", "The source revision for the org.opencontainers.image.revision label (git rev-parse HEAD).")
	out := flag.String("out", "", "The OCI image layout tarball to write.")
	push := flag.Bool("push", false, "Push the image to -repo, with the credentials of ~/.docker/config.json (or $DOCKER_CONFIG), instead of writing -out.")
	flag.Parse()
	if err := run(*which, *repo, *version, *revision, *out, *push); err != nil {
		fmt.Fprintf(os.Stderr, "componentimage: %v\n", err)
		os.Exit(1)
	}
}

func run(which, repo, version, revision, out string, push bool) error {
	c, ok := components[which]
	if !ok {
		return fmt.Errorf("-component=%q: choose manager or node-agent", which)
	}
	if repo == "" {
		repo = "kybern.local/kybern-" + which
	}
	ref, err := name.NewTag(repo+":"+version, name.WeakValidation)
	if err != nil {
		return fmt.Errorf("-repo=%q -version=%q: %w", repo, version, err)
	}
	if push == (out != "") {
		return fmt.Errorf("give -out to write the image, or -push to push it to %s", ref)
	}
	dir, err := os.MkdirTemp("", "kybern-image-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	files := map[string][]byte{}
	for bin, pkg := range c.binaries {
		data, err := buildStatic(pkg, filepath.Join(dir, bin))
		if err != nil {
			return err
		}
		files["usr/local/bin/"+bin] = data
	}
	img, err := image(c, files, labels(which, c, version, revision))
	if err != nil {
		return err
	}
	if push {
		return remote.Write(ref, img, remote.WithAuthFromKeychain(authn.DefaultKeychain))
	}
	return writeLayout(out, ref.String(), img)
}

// buildStatic builds pkg into path as a static linux binary whose bytes depend only on
// the source and the toolchain, and returns them.
func buildStatic(pkg, path string) ([]byte, error) {
	cmd := exec.Command("go", "build", "-trimpath", "-buildvcs=false", "-ldflags=-s -w -buildid=", "-o", path, pkg)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux")
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("go build %s: %w\n%s", pkg, err, out)
	}
	return os.ReadFile(path)
}

// labels are the image's OCI annotations of what it is and where it comes from.
func labels(which string, c component, version, revision string) map[string]string {
	l := map[string]string{
		"org.opencontainers.image.title":       "kybern-" + which,
		"org.opencontainers.image.description": c.description,
		"org.opencontainers.image.version":     version,
		"org.opencontainers.image.source":      "https://github.com/kybern/kybern",
		"org.opencontainers.image.licenses":    "Apache-2.0",
	}
	if revision = strings.TrimSpace(revision); revision != "" {
		l["org.opencontainers.image.revision"] = revision
	}
	return l
}
