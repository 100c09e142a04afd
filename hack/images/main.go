// Command images builds the offline test image docker.io/library/busybox:latest from the
// machine's static busybox (Debian's busybox-static) as an OCI image layout tarball, which
// every node agent imports at start. The output is byte-for-byte reproducible.
package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"slices"
	"strings"
	"time"
)

func main() {
	busybox := flag.String("busybox", "/bin/busybox", "The static busybox binary to put in the image.")
	out := flag.String("out", ".kybern/images/busybox.tar", "The OCI image layout tarball to write.")
	name := flag.String("name", "docker.io/library/busybox:latest", "The image's name.")
	noCmd := flag.Bool("no-cmd", false, "Leave out the image's default command (Cmd [sh]), as tests of a pod that names none need.")
	flag.Parse()
	if err := build(*busybox, *out, *name, *noCmd); err != nil {
		fmt.Fprintf(os.Stderr, "images: %v\n", err)
		os.Exit(1)
	}
}

func build(busybox, out, name string, noCmd bool) error {
	bin, err := os.ReadFile(busybox)
	if err != nil {
		return fmt.Errorf("%w (install it with: apt-get install -y busybox-static)", err)
	}
	if !static(bin) {
		return fmt.Errorf("%s is not a statically linked busybox; install busybox-static", busybox)
	}
	list, err := exec.Command(busybox, "--list").Output()
	if err != nil {
		return fmt.Errorf("listing the applets of %s: %w", busybox, err)
	}
	layer, diffID, err := rootfs(bin, strings.Fields(string(list)))
	if err != nil {
		return err
	}
	imageConfig := map[string]any{"Cmd": []string{"sh"}, "Env": []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}}
	if noCmd {
		delete(imageConfig, "Cmd")
	}
	config := map[string]any{
		"architecture": goruntime.GOARCH, "os": "linux", "config": imageConfig,
		"rootfs": map[string]any{"type": "layers", "diff_ids": []string{diffID}},
	}
	configJSON, err := json.Marshal(config)
	if err != nil {
		return err
	}
	manifest := map[string]any{
		"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
		"config": descriptor("application/vnd.oci.image.config.v1+json", configJSON),
		"layers": []any{descriptor("application/vnd.oci.image.layer.v1.tar+gzip", layer)},
	}
	manifestJSON, err := json.Marshal(manifest)
	if err != nil {
		return err
	}
	md := descriptor("application/vnd.oci.image.manifest.v1+json", manifestJSON)
	tag := name[strings.LastIndex(name, ":")+1:]
	md["annotations"] = map[string]string{"io.containerd.image.name": name, "org.opencontainers.image.ref.name": tag}
	index, err := json.Marshal(map[string]any{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": []any{md}})
	if err != nil {
		return err
	}
	files := []file{
		{"oci-layout", []byte(`{"imageLayoutVersion":"1.0.0"}`)},
		{"index.json", index},
		{blobPath(configJSON), configJSON},
		{blobPath(manifestJSON), manifestJSON},
		{blobPath(layer), layer},
	}
	var buf bytes.Buffer
	if err := writeTar(&buf, files, nil); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return err
	}
	tmp := out + ".tmp"
	if err := os.WriteFile(tmp, buf.Bytes(), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, out)
}

// rootfs is the image's only layer, gzipped: busybox in /bin, a link per applet, and the
// few files and directories programs expect. It returns the layer and its diff ID.
func rootfs(bin []byte, applets []string) (layer []byte, diffID string, err error) {
	files := []file{
		{"bin/busybox", bin},
		{"etc/passwd", []byte("root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n")},
		{"etc/group", []byte("root:x:0:\nnobody:x:65534:\n")},
	}
	links := map[string]string{}
	for _, a := range applets {
		if a != "busybox" {
			links["bin/"+a] = "busybox"
		}
	}
	var raw bytes.Buffer
	if err := writeTar(&raw, files, links, "bin", "etc", "root", "tmp", "var", "var/www"); err != nil {
		return nil, "", err
	}
	var gz bytes.Buffer
	zw, err := gzip.NewWriterLevel(&gz, gzip.BestCompression)
	if err != nil {
		return nil, "", err
	}
	if _, err := zw.Write(raw.Bytes()); err != nil {
		return nil, "", err
	}
	if err := zw.Close(); err != nil {
		return nil, "", err
	}
	sum := sha256.Sum256(raw.Bytes())
	return gz.Bytes(), "sha256:" + hex.EncodeToString(sum[:]), nil
}

// static reports whether bin is an ELF executable without a program interpreter, so it
// runs in an image that has no shared libraries.
func static(bin []byte) bool {
	f, err := elf.NewFile(bytes.NewReader(bin))
	if err != nil {
		return false
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return false
		}
	}
	return true
}

type file struct {
	name string
	data []byte
}

// writeTar writes dirs, files and symlinks (name → target) with fixed times and owners,
// so that the same inputs give the same bytes.
func writeTar(w *bytes.Buffer, files []file, links map[string]string, dirs ...string) error {
	tw := tar.NewWriter(w)
	epoch := time.Unix(0, 0)
	for _, d := range dirs {
		mode := int64(0o755)
		if d == "tmp" {
			mode = 0o1777
		}
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d + "/", Mode: mode, ModTime: epoch}); err != nil {
			return err
		}
	}
	for _, f := range files {
		mode := int64(0o644)
		if strings.HasPrefix(f.name, "bin/") {
			mode = 0o755
		}
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: f.name, Mode: mode, Size: int64(len(f.data)), ModTime: epoch}); err != nil {
			return err
		}
		if _, err := tw.Write(f.data); err != nil {
			return err
		}
	}
	names := make([]string, 0, len(links))
	for n := range links {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeSymlink, Name: n, Linkname: links[n], Mode: 0o777, ModTime: epoch}); err != nil {
			return err
		}
	}
	return tw.Close()
}

func descriptor(mediaType string, data []byte) map[string]any {
	sum := sha256.Sum256(data)
	return map[string]any{"mediaType": mediaType, "digest": "sha256:" + hex.EncodeToString(sum[:]), "size": len(data)}
}

func blobPath(data []byte) string {
	sum := sha256.Sum256(data)
	return "blobs/sha256/" + hex.EncodeToString(sum[:])
}
