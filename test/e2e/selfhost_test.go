package e2e

import (
	"os/exec"
	"path/filepath"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gexec"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	appsv1alpha1 "github.com/kybern/kybern/api/apps/v1alpha1"
	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
	"github.com/kybern/kybern/test/testenv"
)

// managerNamespace is where the manager's Role and leader Lease are, as the chart installs it.
const managerNamespace = "kybern-system"

// managerImage builds the manager's image as make images does and pushes it to reg,
// returning its reference.
func managerImage(reg *testRegistry) string {
	out := filepath.Join(GinkgoT().TempDir(), "manager.tar")
	build := exec.Command("go", "run", "./hack/componentimage", "-component", "manager", "-out", out)
	build.Dir = testenv.RepoRoot()
	output, err := build.CombinedOutput()
	Expect(err).NotTo(HaveOccurred(), "%s", output)
	return reg.push("kybern/kybern-manager:e2e", archiveImage(out))
}

// grantManager gives the ServiceAccount kybern-system/kybern-manager the manager's
// generated RBAC, as the chart does.
func grantManager() {
	err := k8s.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: managerNamespace}})
	Expect(client.IgnoreAlreadyExists(err)).To(Succeed())
	out, err := env.Kubectl(ctx, "apply", "--server-side", "-f", filepath.Join(testenv.RepoRoot(), "config", "rbac", "role.yaml"))
	Expect(err).NotTo(HaveOccurred(), out)
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: managerNamespace, Name: "kybern-manager"}}
	Expect(client.IgnoreAlreadyExists(k8s.Create(ctx, sa))).To(Succeed())
	subjects := []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: managerNamespace, Name: "kybern-manager"}}
	Expect(client.IgnoreAlreadyExists(k8s.Create(ctx, &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "kybern-manager"},
		RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "kybern-manager"}, Subjects: subjects}))).To(Succeed())
	for _, ns := range []string{corev1alpha1.NodeLeaseNamespace, managerNamespace} {
		Expect(client.IgnoreAlreadyExists(k8s.Create(ctx, &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "kybern-manager"},
			RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "kybern-manager"}, Subjects: subjects}))).To(Succeed())
	}
}

// selfHosted is the manager as a kybern Deployment of its own image, on e2e-a: leader
// election in its namespace, its admission webhook on the pod's address.
func selfHosted(image string) *appsv1alpha1.Deployment {
	d := &appsv1alpha1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: managerNamespace, Name: "kybern-manager"}}
	d.Spec.Replicas = ptr.To[int32](1)
	d.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"app": "kybern-manager"}}
	d.Spec.Template.Labels = map[string]string{"app": "kybern-manager"}
	d.Spec.Template.Spec = corev1.PodSpec{NodeName: "e2e-a", ServiceAccountName: "kybern-manager", TerminationGracePeriodSeconds: ptr.To[int64](5),
		Containers: []corev1.Container{{Name: "manager", Image: image, ImagePullPolicy: corev1.PullIfNotPresent,
			Args: []string{"--leader-elect", "--metrics-bind-address=0", "--health-probe-bind-address=:8081", "--webhook-bind-address=$(POD_IP):9443"},
			Env:  []corev1.EnvVar{{Name: "POD_IP", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "status.podIP"}}}},
			SecurityContext: &corev1.SecurityContext{AllowPrivilegeEscalation: ptr.To(false), ReadOnlyRootFilesystem: ptr.To(true), RunAsNonRoot: ptr.To(true),
				Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}}, SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}}}}}
	return d
}

// leaseHolder is the identity holding the manager's leader Lease, "" for none.
func leaseHolder() (string, error) {
	lease := &coordinationv1.Lease{}
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: managerNamespace, Name: "kybern-manager"}, lease); err != nil {
		return "", client.IgnoreNotFound(err)
	}
	return ptr.Deref(lease.Spec.HolderIdentity, ""), nil
}

var _ = Describe("Kybern running its own manager", Ordered, func() {
	var image string
	BeforeAll(func() {
		startAgent("e2e-a")
		image = managerImage(startRegistry())
		grantManager()
	})

	It("runs the manager image as a kybern Deployment, which takes over leadership when the other manager stops and keeps reconciling", func() {
		managerBin := filepath.Join(GinkgoT().TempDir(), "manager")
		build := exec.Command("go", "build", "-o", managerBin, ".")
		build.Dir = testenv.RepoRoot()
		out, err := build.CombinedOutput()
		Expect(err).NotTo(HaveOccurred(), "%s", out)
		ns, err := env.NewNamespace(ctx, "e2e-self")
		Expect(err).NotTo(HaveOccurred())

		// The suite's manager, which elects no leader, stops meanwhile: only the managers
		// of this spec act.
		Expect(suite.RestartManager(func() {
			webhook, err := testenv.FreeLoopbackAddr()
			Expect(err).NotTo(HaveOccurred())
			outside := exec.Command(managerBin, "--kubeconfig", env.Kubeconfig, "--leader-elect", "--leader-election-namespace", managerNamespace,
				"--metrics-bind-address", "0", "--health-probe-bind-address", "0", "--webhook-bind-address", webhook,
				"--controllers", "*,serviceaccount,root-ca-cert-publisher", "--root-ca-file", env.CA.CertFile,
				"--cluster-signing-cert-file", env.CA.CertFile, "--cluster-signing-key-file", env.CA.KeyFile)
			first, err := gexec.Start(outside, GinkgoWriter, GinkgoWriter)
			Expect(err).NotTo(HaveOccurred())
			defer first.Kill()
			Eventually(leaseHolder).Should(Not(BeEmpty()), "the manager outside the cluster leads")
			outsider, err := leaseHolder()
			Expect(err).NotTo(HaveOccurred())
			// It leads at once (the suite's manager released the Lease), maybe before its
			// webhook registration replaced the stopped manager's address.
			Eventually(func() error { return env.AdmissionProbe(ctx) }).Should(Satisfy(apierrors.IsForbidden),
				"the outside manager's admission webhook serves")

			By("starting the manager image as a kybern Deployment; it waits as a follower")
			Expect(k8s.Create(ctx, selfHosted(image))).To(Succeed())
			var pod corev1alpha1.Pod
			Eventually(func(g Gomega) {
				var pods corev1alpha1.PodList
				g.Expect(k8s.List(ctx, &pods, client.InNamespace(managerNamespace), client.MatchingLabels{"app": "kybern-manager"})).To(Succeed())
				g.Expect(pods.Items).To(HaveLen(1))
				g.Expect(pods.Items[0].Status.Phase).To(Equal(corev1.PodRunning))
				pod = pods.Items[0]
			}).Should(Succeed())
			Expect(leaseHolder()).To(Equal(outsider))

			By("stopping the manager outside: the pod takes the Lease")
			first.Terminate().Wait("30s")
			Eventually(func(g Gomega) {
				holder, err := leaseHolder()
				g.Expect(err).NotTo(HaveOccurred())
				logs, _ := logOf(&pod, "manager", 0)()
				g.Expect(holder).To(HavePrefix(pod.Name+"_"), "the pod's manager leads; its log:\n%s", logs)
			}, "90s").Should(Succeed())

			By("scaling a ReplicaSet up: the pod's manager admits, schedules and creates its pods")
			rs := &appsv1alpha1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "scaled"}}
			rs.Spec.Replicas = ptr.To[int32](3)
			rs.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"app": "scaled"}}
			rs.Spec.Template.Labels = map[string]string{"app": "scaled"}
			rs.Spec.Template.Spec.TerminationGracePeriodSeconds = ptr.To[int64](1)
			rs.Spec.Template.Spec.Containers = []corev1.Container{{Name: "main", Image: "busybox", Command: []string{"sleep", "3600"}}}
			Eventually(func() error { return k8s.Create(ctx, rs) }).Should(Succeed(), "the pod's webhook answers")
			Eventually(func(g Gomega) {
				var pods corev1alpha1.PodList
				g.Expect(k8s.List(ctx, &pods, client.InNamespace(ns))).To(Succeed())
				g.Expect(pods.Items).To(HaveLen(3))
				for _, p := range pods.Items {
					g.Expect(p.Status.Phase).To(Equal(corev1.PodRunning))
				}
			}, "90s").Should(Succeed())
			Eventually(func(g Gomega) {
				got := &appsv1alpha1.ReplicaSet{}
				g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(rs), got)).To(Succeed())
				g.Expect(got.Status.ReadyReplicas).To(Equal(int32(3)))
			}).Should(Succeed(), "its ReplicaSet controller reports the pods")
			Expect(k8s.Delete(ctx, rs)).To(Succeed())
			deletePodsIn(ns)
			logs, err := logOf(&pod, "manager", 0)()
			Expect(err).NotTo(HaveOccurred())
			// RBAC's refusal reads "… is forbidden: User "<account>" cannot …".
			Expect(logs).NotTo(MatchRegexp(`User \\?"system:serviceaccount:kybern-system:kybern-manager\\?" cannot`), "the manager's RBAC refused it something")
			Expect(k8s.Delete(ctx, selfHosted(image))).To(Succeed())
		})).To(Succeed())
		deletePodsIn(managerNamespace)
		Eventually(func() bool {
			err := k8s.Get(ctx, client.ObjectKey{Namespace: managerNamespace, Name: "kybern-manager"}, &appsv1alpha1.Deployment{})
			return apierrors.IsNotFound(err)
		}).Should(BeTrue())
	})
})
