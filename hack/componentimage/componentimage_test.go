package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"debug/elf"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// The manager's image, built twice from the same checkout, is the same file byte for byte;
// its config runs the static manager as nonroot with the labels asked for.
func TestManagerImageIsReproducible(t *testing.T) {
	dir := t.TempDir()
	var sums [2][sha256.Size]byte
	for i := range sums {
		out := filepath.Join(dir, "manager.tar")
		if err := run("manager", "", "v9.8.7", "abc123", out, false); err != nil {
			t.Fatal(err)
		}
		data, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		sums[i] = sha256.Sum256(data)
	}
	if sums[0] != sums[1] {
		t.Fatalf("two builds differ: %x and %x", sums[0], sums[1])
	}

	files := layoutFiles(t, filepath.Join(dir, "manager.tar"))
	var index v1.IndexManifest
	if err := json.Unmarshal(files["index.json"], &index); err != nil {
		t.Fatal(err)
	}
	if len(index.Manifests) != 1 || index.Manifests[0].Annotations["io.containerd.image.name"] != "kybern.local/kybern-manager:v9.8.7" {
		t.Fatalf("index = %+v, want one image named kybern.local/kybern-manager:v9.8.7", index)
	}
	var manifest v1.Manifest
	if err := json.Unmarshal(files[blob(index.Manifests[0].Digest)], &manifest); err != nil {
		t.Fatal(err)
	}
	var cfg v1.ConfigFile
	if err := json.Unmarshal(files[blob(manifest.Config.Digest)], &cfg); err != nil {
		t.Fatal(err)
	}
	if cfg.Config.User != "65532:65532" || len(cfg.Config.Entrypoint) != 1 || cfg.Config.Entrypoint[0] != "/usr/local/bin/manager" ||
		cfg.Config.Labels["org.opencontainers.image.version"] != "v9.8.7" || cfg.Config.Labels["org.opencontainers.image.revision"] != "abc123" {
		t.Fatalf("config = %+v, want the manager as 65532 with version and revision labels", cfg.Config)
	}
	if len(manifest.Layers) != 1 {
		t.Fatalf("%d layers, want 1", len(manifest.Layers))
	}
	bin := layerFile(t, files[blob(manifest.Layers[0].Digest)], "usr/local/bin/manager")
	f, err := elf.NewFile(bytes.NewReader(bin))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Fatal("the manager is dynamically linked; the image has no libraries")
		}
	}
}

func layoutFiles(t *testing.T, path string) map[string][]byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return untar(t, bytes.NewReader(data))
}

func layerFile(t *testing.T, gzipped []byte, name string) []byte {
	t.Helper()
	layer, err := gzip.NewReader(bytes.NewReader(gzipped))
	if err != nil {
		t.Fatal(err)
	}
	data, ok := untar(t, layer)[name]
	if !ok {
		t.Fatalf("the layer has no %s", name)
	}
	return data
}

func untar(t *testing.T, r io.Reader) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			data, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			out[h.Name] = data
		}
	}
}
