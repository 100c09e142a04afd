package e2e

import (
	"archive/tar"
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
	"github.com/kybern/kybern/test/testenv"
)

// withBinary is img with the file at path added as /<its base name>, executable.
func withBinary(img v1.Image, path string) v1.Image {
	data, err := os.ReadFile(path)
	Expect(err).NotTo(HaveOccurred())
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	Expect(tw.WriteHeader(&tar.Header{Name: filepath.Base(path), Mode: 0o755, Size: int64(len(data)), Typeflag: tar.TypeReg})).To(Succeed())
	_, err = tw.Write(data)
	Expect(err).NotTo(HaveOccurred())
	Expect(tw.Close()).To(Succeed())
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(buf.Bytes())), nil })
	Expect(err).NotTo(HaveOccurred())
	out, err := mutate.AppendLayers(img, layer)
	Expect(err).NotTo(HaveOccurred())
	return out
}

// apiClientImage builds test/e2e/apiclient and pushes busybox with it to reg, returning
// the image's reference.
func apiClientImage(reg *testRegistry) string {
	bin := filepath.Join(GinkgoT().TempDir(), "apiclient")
	build := exec.Command("go", "build", "-o", bin, "./test/e2e/apiclient")
	build.Dir, build.Env = testenv.RepoRoot(), append(os.Environ(), "CGO_ENABLED=0")
	out, err := build.CombinedOutput()
	Expect(err).NotTo(HaveOccurred(), "%s", out)
	return reg.push("kybern/apiclient:e2e", withBinary(busyboxImage(), bin))
}

var _ = Describe("Pods with a service account", Ordered, func() {
	const node = "e2e-sa"
	var (
		ns, image string
		reg       *testRegistry
	)
	BeforeAll(func() {
		join(bootstrapKubeconfig(), node)
		reg = startRegistry()
		image = apiClientImage(reg)
	})
	BeforeEach(func() {
		var err error
		ns, err = env.NewNamespace(ctx, "e2e-sa")
		Expect(err).NotTo(HaveOccurred())
	})
	// The pods go while their node's agent runs, which lets them go.
	AfterEach(func() { deletePodsIn(ns) })

	It("reach the apiserver at the kubernetes Service with their own token, and get what their role allows only", func() {
		Expect(k8s.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "settings"}, Data: map[string]string{"greeting": "hello"}})).To(Succeed())
		Expect(k8s.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "hidden"}, StringData: map[string]string{"password": "s3cret"}})).To(Succeed())
		Expect(k8s.Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "reader"}})).To(Succeed())
		Expect(k8s.Create(ctx, &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "read-settings"},
			Rules: []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"configmaps"}, ResourceNames: []string{"settings"}, Verbs: []string{"get"}}}})).To(Succeed())
		Expect(k8s.Create(ctx, &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "reader"},
			RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "read-settings"},
			Subjects: []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: ns, Name: "reader"}}})).To(Succeed())

		p := newPod(ns, "client", corev1.RestartPolicyNever, "/apiclient", "settings", "hidden")
		p.Spec.NodeName, p.Spec.ServiceAccountName, p.Spec.Containers[0].Image = node, "reader", image
		Expect(k8s.Create(ctx, p)).To(Succeed())
		Expect(current(p)()).To(HaveField("Spec.Volumes", ContainElement(And(
			HaveField("Name", HavePrefix("kube-api-access-")),
			HaveField("Projected.Sources", HaveLen(3))))), "admission gave the pod its service account volume")

		Eventually(current(p)).Should(HaveField("Status.Phase", BeElementOf(corev1.PodSucceeded, corev1.PodFailed)))
		log, err := logOf(p, "main", 0)()
		Expect(err).NotTo(HaveOccurred())
		Expect(current(p)()).To(HaveField("Status.Phase", corev1.PodSucceeded), log)
		Expect(log).To(And(
			ContainSubstring("stdout F apiserver https://10.96.0.1:443"),
			ContainSubstring("stdout F user system:serviceaccount:"+ns+":reader"),
			ContainSubstring("stdout F configmap settings: greeting=hello"),
			ContainSubstring("stdout F secret hidden: 403")))
	})

	It("get no token when automountServiceAccountToken is false, and the kubernetes Service's variables and name all the same", func() {
		p := newPod(ns, "quiet", corev1.RestartPolicyNever, "sh", "-c",
			"echo host=$KUBERNETES_SERVICE_HOST port=$KUBERNETES_SERVICE_PORT; "+
				"echo resolved=$(nslookup kubernetes.default.svc.cluster.local | awk '/^Address: / {a=$2} END {print a}'); "+
				"ls /var/run/secrets/kubernetes.io/serviceaccount || echo no-token")
		p.Spec.NodeName, p.Spec.AutomountServiceAccountToken = node, ptr.To(false)
		Expect(k8s.Create(ctx, p)).To(Succeed())
		Eventually(current(p)).Should(HaveField("Status.Phase", corev1.PodSucceeded))
		Expect(current(p)()).To(And(HaveField("Spec.ServiceAccountName", corev1alpha1.DefaultServiceAccountName),
			HaveField("Spec.Volumes", BeEmpty())))
		log, err := logOf(p, "main", 0)()
		Expect(err).NotTo(HaveOccurred())
		Expect(log).To(And(ContainSubstring("stdout F host=10.96.0.1 port=443"), ContainSubstring("stdout F resolved=10.96.0.1")))
		Expect(strings.Contains(log, "stdout F no-token")).To(BeTrue(), log)
	})
})
