package e2e

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	appsv1alpha1 "github.com/kybern/kybern/api/apps/v1alpha1"
)

var _ = Describe("Pod Security on real containers", Ordered, func() {
	BeforeAll(func() { startAgent("e2e-a") })

	It("refuses a root pod in a restricted namespace, and runs one that meets restricted as its own user with no capabilities", func() {
		ns, err := env.NewPodSecurityNamespace(ctx, "e2e-restricted", "restricted")
		Expect(err).NotTo(HaveOccurred())
		script := `echo "uid=$(id -u)"; echo "caps=$(grep CapEff /proc/self/status | cut -f2)"; echo "nnp=$(grep NoNewPrivs /proc/self/status | cut -f2)"`
		err = k8s.Create(ctx, newPod(ns, "as-root", corev1.RestartPolicyNever, "sh", "-c", script))
		Expect(apierrors.IsForbidden(err)).To(BeTrue(), "want Forbidden, got %v", err)
		Expect(err.Error()).To(ContainSubstring(`violates PodSecurity "restricted:latest"`))
		Expect(err.Error()).To(ContainSubstring(`runAsNonRoot != true (pod or container "main" must set securityContext.runAsNonRoot=true)`))

		p := newPod(ns, "confined", corev1.RestartPolicyNever, "sh", "-c", script)
		p.Spec.SecurityContext = &corev1.PodSecurityContext{RunAsNonRoot: ptr.To(true), RunAsUser: ptr.To[int64](4321),
			SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}}
		p.Spec.Containers[0].SecurityContext = &corev1.SecurityContext{AllowPrivilegeEscalation: ptr.To(false),
			Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}}}
		Expect(k8s.Create(ctx, p)).To(Succeed())
		Eventually(current(p)).Should(HaveField("Status.Phase", corev1.PodSucceeded))
		Eventually(logOf(p, "main", 0)).Should(ContainSubstring("stdout F nnp="))
		log, err := logOf(p, "main", 0)()
		Expect(err).NotTo(HaveOccurred())
		Expect(log).To(ContainSubstring("stdout F uid=4321\n"))
		Expect(log).To(ContainSubstring("stdout F caps=0000000000000000\n"))
		Expect(log).To(ContainSubstring("stdout F nnp=1\n"))
	})

	It("refuses hostPath where no label is set, and reports it on a Deployment whose pods it refuses", func() {
		ns, err := env.NewNamespace(ctx, "e2e-baseline")
		Expect(err).NotTo(HaveOccurred())
		hostRoot := corev1.Volume{Name: "host", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/"}}}
		p := newPod(ns, "reads-host", corev1.RestartPolicyNever, "cat", "/host/etc/shadow")
		p.Spec.Volumes = []corev1.Volume{hostRoot}
		p.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "host", MountPath: "/host"}}
		err = k8s.Create(ctx, p)
		Expect(apierrors.IsForbidden(err)).To(BeTrue(), "want Forbidden, got %v", err)
		Expect(err.Error()).To(ContainSubstring(`violates PodSecurity "baseline:latest": hostPath volumes (volume "host")`))

		d := &appsv1alpha1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "reads-host"}}
		d.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"app": "reads-host"}}
		d.Spec.Template.Labels = map[string]string{"app": "reads-host"}
		d.Spec.Template.Spec = p.Spec
		d.Spec.Template.Spec.NodeName = ""
		d.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyAlways
		Expect(k8s.Create(ctx, d)).To(Succeed(), "a template is warned about, as upstream does, not refused")
		Eventually(func(g Gomega) {
			var sets appsv1alpha1.ReplicaSetList
			g.Expect(k8s.List(ctx, &sets, client.InNamespace(ns))).To(Succeed())
			g.Expect(sets.Items).To(HaveLen(1))
			g.Expect(sets.Items[0].Status.Conditions).To(ContainElement(And(HaveField("Type", appsv1.ReplicaSetReplicaFailure),
				HaveField("Message", ContainSubstring(`violates PodSecurity "baseline:latest": hostPath volumes (volume "host")`)))))
		}).Should(Succeed())
	})
})
