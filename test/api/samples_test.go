package api_test

import (
	"os"
	"path/filepath"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"
)

// sample is one manifest of config/samples, decoded.
type sample struct {
	file string
	obj  *unstructured.Unstructured
}

func loadSamples() []sample {
	files, err := filepath.Glob(filepath.Join(samplesDir(), "*.yaml"))
	Expect(err).NotTo(HaveOccurred())
	var out []sample
	for _, f := range files {
		b, err := os.ReadFile(f)
		Expect(err).NotTo(HaveOccurred())
		obj := &unstructured.Unstructured{}
		Expect(yaml.Unmarshal(b, &obj.Object)).To(Succeed(), f)
		out = append(out, sample{file: f, obj: obj})
	}
	return out
}

var _ = Describe("The samples", func() {
	It("cover every kind, one upstream-style manifest each", func() {
		kinds := map[string]bool{}
		for _, s := range loadSamples() {
			kinds[s.obj.GroupVersionKind().GroupKind().String()] = true
		}
		Expect(kinds).To(HaveLen(11))
		for _, k := range []string{"Pod.core.kybern.io", "Node.core.kybern.io", "Service.core.kybern.io", "EndpointSlice.core.kybern.io",
			"ReplicaSet.apps.kybern.io", "Deployment.apps.kybern.io", "DaemonSet.apps.kybern.io", "StatefulSet.apps.kybern.io",
			"Job.batch.kybern.io", "CronJob.batch.kybern.io", "HorizontalPodAutoscaler.autoscaling.kybern.io"} {
			Expect(kinds).To(HaveKey(k))
		}
	})

	It("apply with kubectl, and the apiserver keeps every field they set", func() {
		ns := newNamespace()
		for _, s := range loadSamples() {
			run("apply", "--server-side", "-n", ns, "-f", s.file)

			got := &unstructured.Unstructured{}
			got.SetGroupVersionKind(s.obj.GroupVersionKind())
			key := client.ObjectKey{Name: s.obj.GetName()}
			if s.obj.GetKind() != "Node" {
				key.Namespace = ns
			}
			Expect(k8sClient.Get(ctx, key, got)).To(Succeed(), s.file)
			for field, want := range s.obj.Object {
				if field == "apiVersion" || field == "kind" || field == "metadata" {
					continue
				}
				Expect(missing(want, got.Object[field], "."+field)).To(BeEmpty(), "%s: the apiserver pruned or changed fields", s.file)
			}
			Expect(got.GetLabels()).To(Equal(s.obj.GetLabels()), s.file)
		}

		By("listing them all through the kybern category")
		out := run("get", "kybern", "-n", ns, "-o", "name")
		for _, s := range loadSamples() {
			if s.obj.GetKind() == "Node" {
				continue
			}
			Expect(out).To(ContainSubstring(strings.ToLower(s.obj.GetKind()) + "." + s.obj.GroupVersionKind().Group + "/" + s.obj.GetName()))
		}
	})

	It("are upstream manifests with only the apiVersion changed", func() {
		upstream := map[string]string{"core.kybern.io": "v1", "apps.kybern.io": "apps/v1", "batch.kybern.io": "batch/v1",
			"autoscaling.kybern.io": "autoscaling/v2"}
		for _, s := range loadSamples() {
			gvk := s.obj.GroupVersionKind()
			apiVersion := upstream[gvk.Group]
			if gvk.Kind == "EndpointSlice" {
				apiVersion = "discovery.k8s.io/v1"
			}
			native, err := clientgoscheme.Scheme.New(schema.FromAPIVersionAndKind(apiVersion, gvk.Kind))
			Expect(err).NotTo(HaveOccurred(), s.file)
			b, err := os.ReadFile(s.file)
			Expect(err).NotTo(HaveOccurred())
			b = []byte(strings.Replace(string(b), "apiVersion: "+gvk.GroupVersion().String(), "apiVersion: "+apiVersion, 1))
			Expect(yaml.UnmarshalStrict(b, native)).To(Succeed(), "%s does not decode as upstream %s %s", s.file, apiVersion, gvk.Kind)
		}
	})
})
