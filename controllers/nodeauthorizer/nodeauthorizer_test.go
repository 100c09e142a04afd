package nodeauthorizer_test

import (
	"path/filepath"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
	"github.com/kybern/kybern/test/testenv"
)

// asNode is a client with node's identity and the node agents' RBAC.
func asNode(node string) client.Client {
	cfg := rest.CopyConfig(env.Config)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: corev1alpha1.NodeUser(node), Groups: []string{"kybern:nodes", "system:authenticated"}}
	c, err := client.New(cfg, client.Options{Scheme: k8s.Scheme()})
	Expect(err).NotTo(HaveOccurred())
	return c
}

// readable tells whether c may get the Secret ns/name: nil when it may, the error else.
func readable(c client.Client, ns, name string) func() error {
	return func() error {
		return c.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &corev1.Secret{})
	}
}

func boundPod(ns, name, node string, volumes ...corev1.Volume) *corev1alpha1.Pod {
	return &corev1alpha1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: corev1.PodSpec{NodeName: node, Volumes: volumes, Containers: []corev1.Container{{Name: "c", Image: "busybox"}}}}
}

func secretVolume(secret string) corev1.Volume {
	return corev1.Volume{Name: secret, VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: secret}}}
}

var _ = Describe("The node authorizer", func() {
	var ns string
	BeforeEach(func() {
		out, err := env.Kubectl(ctx, "apply", "--server-side", "-f", filepath.Join(testenv.RepoRoot(), "config", "rbac", "node-agent"))
		Expect(err).NotTo(HaveOccurred(), out)
		ns, err = env.NewNamespace(ctx, "authz")
		Expect(err).NotTo(HaveOccurred())
		for _, name := range []string{"db", "other"} {
			Expect(k8s.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, StringData: map[string]string{"k": "v"}})).To(Succeed())
		}
	})

	It("lets a node read a Secret only while a pod bound to it uses it", func() {
		a, b := asNode("authz-a"), asNode("authz-b")
		elsewhere := boundPod(ns, "elsewhere", "authz-b", secretVolume("db"))
		Expect(k8s.Create(ctx, elsewhere)).To(Succeed())
		Eventually(readable(b, ns, "db")).Should(Succeed())
		Expect(apierrors.IsForbidden(readable(a, ns, "db")())).To(BeTrue(), "a Secret used by a pod bound to another node")

		mine := boundPod(ns, "mine", "authz-a", secretVolume("db"))
		Expect(k8s.Create(ctx, mine)).To(Succeed())
		Eventually(readable(a, ns, "db")).Should(Succeed())
		err := readable(a, ns, "other")()
		Expect(apierrors.IsForbidden(err)).To(BeTrue(), "a Secret no pod of the node uses: %v", err)

		By("revoking it once the pod goes")
		Expect(k8s.Delete(ctx, mine)).To(Succeed())
		Eventually(func() bool { return apierrors.IsForbidden(readable(a, ns, "db")()) }).Should(BeTrue())
		Eventually(func() error {
			return k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: corev1alpha1.NodeUser("authz-a")}, &rbacv1.Role{})
		}).Should(Satisfy(apierrors.IsNotFound), "the node's Role in the namespace goes with its last pod there")
		Expect(readable(b, ns, "db")()).To(Succeed(), "the other node keeps its grant")
	})

	It("follows a pod's Secret, ConfigMap and claim references, and puts back a grant someone changed", func() {
		Expect(k8s.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "settings"}})).To(Succeed())
		p := boundPod(ns, "web", "authz-c")
		p.Spec.Containers[0].EnvFrom = []corev1.EnvFromSource{{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "settings"}}}}
		p.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "K", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
			LocalObjectReference: corev1.LocalObjectReference{Name: "other"}, Key: "k"}}}}
		p.Spec.Volumes = []corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "www"}}}}
		Expect(k8s.Create(ctx, p)).To(Succeed())
		c := asNode("authz-c")
		Eventually(readable(c, ns, "other")).Should(Succeed())
		Expect(c.Get(ctx, client.ObjectKey{Namespace: ns, Name: "settings"}, &corev1.ConfigMap{})).To(Succeed())
		err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: "www"}, &corev1.PersistentVolumeClaim{})
		Expect(apierrors.IsNotFound(err)).To(BeTrue(), "the claim is readable, and missing: %v", err)
		err = c.Get(ctx, client.ObjectKey{Namespace: ns, Name: "db"}, &corev1.Secret{})
		Expect(apierrors.IsForbidden(err)).To(BeTrue(), "a Secret the pod does not use: %v", err)

		role := &rbacv1.Role{}
		Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: corev1alpha1.NodeUser("authz-c")}, role)).To(Succeed())
		role.Rules = append(role.Rules, rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"secrets"}, Verbs: []string{"get"}})
		Expect(k8s.Update(ctx, role)).To(Succeed())
		Eventually(func() bool { return apierrors.IsForbidden(readable(c, ns, "db")()) }).Should(BeTrue(), "a widened grant is narrowed again")
	})

	It("lets a node request tokens only for the service accounts of its pods that project one", func() {
		for _, name := range []string{"reader", "admin"} {
			Expect(k8s.Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}})).To(Succeed())
		}
		token := func(c client.Client, account string) func() error {
			return func() error {
				sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: account}}
				return c.SubResource("token").Create(ctx, sa, &authenticationv1.TokenRequest{})
			}
		}
		p := boundPod(ns, "client", "authz-d", corev1.Volume{Name: "kube-api-access-x", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{
			Sources: []corev1.VolumeProjection{{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "token"}}}}}})
		p.Spec.ServiceAccountName = "reader"
		Expect(k8s.Create(ctx, p)).To(Succeed())
		d := asNode("authz-d")
		Eventually(token(d, "reader")).Should(Succeed())
		err := token(d, "admin")()
		Expect(apierrors.IsForbidden(err)).To(BeTrue(), "a service account no pod of the node runs as: %v", err)
		err = token(asNode("authz-e"), "reader")()
		Expect(apierrors.IsForbidden(err)).To(BeTrue(), "another node's pod's service account: %v", err)

		Expect(k8s.Delete(ctx, p)).To(Succeed())
		Eventually(func() bool { return apierrors.IsForbidden(token(d, "reader")()) }).Should(BeTrue(), "revoked once the pod goes")
	})
})
