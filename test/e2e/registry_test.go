package e2e

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	corev1 "k8s.io/api/core/v1"

	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
	"github.com/kybern/kybern/node-agent/podworker"
	"github.com/kybern/kybern/test/testenv"
)

// testRegistry is an OCI registry on loopback, counting the manifest requests it serves.
type testRegistry struct {
	host      string
	manifests atomic.Int64
}

// startRegistry serves a registry on 127.0.0.1 until the spec ends and pushes the busybox
// image make images builds to it as library/busybox:pulled.
func startRegistry() *testRegistry {
	r := &testRegistry{}
	handler := registry.New(registry.Logger(log.New(GinkgoWriter, "registry: ", 0)))
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if strings.Contains(req.URL.Path, "/manifests/") {
			r.manifests.Add(1)
		}
		handler.ServeHTTP(w, req)
	}))
	DeferCleanup(server.Close)
	r.host = strings.TrimPrefix(server.URL, "http://")

	r.push("library/busybox:pulled", busyboxImage())
	r.manifests.Store(0)
	return r
}

// push writes img to the registry as repoTag and returns its full reference.
func (r *testRegistry) push(repoTag string, img v1.Image) string {
	image := r.host + "/" + repoTag
	ref, err := name.ParseReference(image, name.Insecure)
	Expect(err).NotTo(HaveOccurred())
	Expect(remote.Write(ref, img)).To(Succeed())
	return image
}

// busyboxImage reads the image from the OCI archive the suite built.
func busyboxImage() v1.Image { return archiveImage(filepath.Join(work, "images", "busybox.tar")) }

// archiveImage reads the first image of an OCI image layout tarball.
func archiveImage(path string) v1.Image {
	dir := GinkgoT().TempDir()
	f, err := os.Open(path)
	Expect(err).NotTo(HaveOccurred())
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		Expect(err).NotTo(HaveOccurred())
		if h.Typeflag != tar.TypeReg {
			continue
		}
		target := filepath.Join(dir, filepath.Clean(h.Name))
		Expect(os.MkdirAll(filepath.Dir(target), 0o755)).To(Succeed())
		out, err := os.Create(target)
		Expect(err).NotTo(HaveOccurred())
		_, err = io.Copy(out, tr)
		Expect(err).NotTo(HaveOccurred())
		Expect(out.Close()).To(Succeed())
	}
	index, err := layout.ImageIndexFromPath(dir)
	Expect(err).NotTo(HaveOccurred())
	manifest, err := index.IndexManifest()
	Expect(err).NotTo(HaveOccurred())
	Expect(manifest.Manifests).NotTo(BeEmpty())
	img, err := index.Image(manifest.Manifests[0].Digest)
	Expect(err).NotTo(HaveOccurred())
	return img
}

var _ = Describe("Images from a registry", Ordered, func() {
	var (
		ns  string
		reg *testRegistry
	)
	BeforeAll(func() {
		startAgent("e2e-a")
		reg = startRegistry()
	})
	BeforeEach(func() {
		var err error
		ns, err = env.NewNamespace(ctx, "e2e-pull")
		Expect(err).NotTo(HaveOccurred())
	})

	It("pulls an absent image once under IfNotPresent, and again for every start under Always", func() {
		image := reg.host + "/library/busybox:pulled"
		first := newPod(ns, "first", corev1.RestartPolicyNever, "echo", "pulled")
		first.Spec.Containers[0].Image, first.Spec.Containers[0].ImagePullPolicy = image, corev1.PullIfNotPresent
		Expect(k8s.Create(ctx, first)).To(Succeed())
		Eventually(current(first)).Should(HaveField("Status.Phase", corev1.PodSucceeded))
		Eventually(logOf(first, "main", 0)).Should(ContainSubstring("stdout F pulled"))
		Expect(current(first)()).To(HaveField("Status.ContainerStatuses", ConsistOf(HaveField("Image", image))))
		pulls := reg.manifests.Load()
		Expect(pulls).To(BeNumerically(">=", 1), "the first pod must pull its image from the registry")
		Eventually(imageMessages(first)).Should(Equal([]string{
			fmt.Sprintf("Pulling: Pulling image %q", image), fmt.Sprintf("Pulled: Successfully pulled image %q", image)}))

		again := newPod(ns, "again", corev1.RestartPolicyNever, "true")
		again.Spec.Containers[0].Image, again.Spec.Containers[0].ImagePullPolicy = image, corev1.PullIfNotPresent
		Expect(k8s.Create(ctx, again)).To(Succeed())
		Eventually(current(again)).Should(HaveField("Status.Phase", corev1.PodSucceeded))
		Expect(reg.manifests.Load()).To(Equal(pulls), "IfNotPresent must not pull an image that is present")
		Eventually(imageMessages(again)).Should(Equal([]string{fmt.Sprintf("Pulled: Container image %q already present on machine", image)}))

		always := newPod(ns, "always", corev1.RestartPolicyNever, "true")
		always.Spec.Containers[0].Image, always.Spec.Containers[0].ImagePullPolicy = image, corev1.PullAlways
		Expect(k8s.Create(ctx, always)).To(Succeed())
		Eventually(current(always)).Should(HaveField("Status.Phase", corev1.PodSucceeded))
		Expect(reg.manifests.Load()).To(BeNumerically(">", pulls), "Always must ask the registry again")
	})

	It("reports a tag the registry does not have as ErrImagePull, then ImagePullBackOff, with the registry's message", func() {
		p := newPod(ns, "missing", corev1.RestartPolicyAlways, "true")
		p.Spec.Containers[0].Image = reg.host + "/library/busybox:missing"
		Expect(k8s.Create(ctx, p)).To(Succeed())
		Eventually(current(p)).Should(HaveField("Status.ContainerStatuses", ConsistOf(And(
			HaveField("State.Waiting.Reason", BeElementOf(podworker.ReasonErrImagePull, podworker.ReasonImagePullBackOff)),
			HaveField("State.Waiting.Message", And(ContainSubstring(reg.host+"/library/busybox:missing"), ContainSubstring("not found")))))))
		Eventually(current(p)).Should(HaveField("Status.ContainerStatuses", ConsistOf(HaveField("State.Waiting.Reason", podworker.ReasonImagePullBackOff))))
	})
})

// imageMessages are pod's Pulling and Pulled events in the order they were recorded, as
// "reason: message", a pull's message cut before the time it took, which varies. The
// recorder names an event after its object and the time in hexadecimal nanoseconds, which
// orders events of the same second, unlike their timestamps.
func imageMessages(pod *corev1alpha1.Pod) func() ([]string, error) {
	events := testenv.EventsOf(ctx, k8s, pod, "Pod")
	return func() ([]string, error) {
		list, err := events()
		if err != nil {
			return nil, err
		}
		slices.SortFunc(list, func(a, b corev1.Event) int { return strings.Compare(a.Name, b.Name) })
		var out []string
		for _, e := range list {
			if e.Reason == "Pulling" || e.Reason == "Pulled" {
				msg, _, _ := strings.Cut(e.Message, " in ")
				out = append(out, e.Reason+": "+msg)
			}
		}
		return out, nil
	}
}
