package api_test

import (
	"context"
	"sync"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	appsv1alpha1 "github.com/kybern/kybern/api/apps/v1alpha1"
	batchv1alpha1 "github.com/kybern/kybern/api/batch/v1alpha1"
	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
)

// warnings collects the apiserver's Warning headers, as kubectl prints them.
type warnings struct {
	mu   sync.Mutex
	list []string
}

func (w *warnings) HandleWarningHeaderWithContext(_ context.Context, _ int, _ string, text string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.list = append(w.list, text)
}

func (w *warnings) take() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := w.list
	w.list = nil
	return out
}

// warningClient is a client whose requests' warnings land in w.
func warningClient(w *warnings) client.Client {
	cfg := rest.CopyConfig(env.Config)
	cfg.WarningHandlerWithContext = w
	c, err := client.New(cfg, client.Options{Scheme: k8sClient.Scheme()})
	ExpectWithOffset(1, err).NotTo(HaveOccurred())
	return c
}

// labelledNamespace creates a namespace with the given pod-security labels.
func labelledNamespace(labels map[string]string) string {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "pod-security-", Labels: labels}}
	ExpectWithOffset(1, k8sClient.Create(ctx, ns)).To(Succeed())
	return ns.Name
}

func plainPod(ns string) *corev1alpha1.Pod {
	return &corev1alpha1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, GenerateName: "p-"},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "busybox"}}}}
}

// restrictedPod meets the restricted level.
func restrictedPod(ns string) *corev1alpha1.Pod {
	p := plainPod(ns)
	p.Spec.SecurityContext = &corev1.PodSecurityContext{RunAsNonRoot: ptr.To(true), RunAsUser: ptr.To[int64](1000),
		SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}}
	p.Spec.Containers[0].SecurityContext = &corev1.SecurityContext{AllowPrivilegeEscalation: ptr.To(false),
		Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}}}
	return p
}

func privileged(p *corev1alpha1.Pod) *corev1alpha1.Pod {
	p.Spec.Containers[0].SecurityContext = &corev1.SecurityContext{Privileged: ptr.To(true)}
	return p
}

func withHostPath(p *corev1alpha1.Pod) *corev1alpha1.Pod {
	p.Spec.Volumes = []corev1.Volume{{Name: "root", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/"}}}}
	return p
}

func expectForbidden(err error, message string) {
	ExpectWithOffset(1, err).To(HaveOccurred(), "the apiserver accepted it")
	ExpectWithOffset(1, apierrors.IsForbidden(err)).To(BeTrue(), "want Forbidden, got %v", err)
	ExpectWithOffset(1, err.Error()).To(ContainSubstring(message))
}

var _ = Describe("Pod Security admission", func() {
	It("enforces baseline where a namespace has no label: no privileged container, no hostPath", func() {
		ns := labelledNamespace(nil)
		expectForbidden(k8sClient.Create(ctx, privileged(plainPod(ns))),
			`violates PodSecurity "baseline:latest": privileged (container "app" must not set securityContext.privileged=true)`)
		expectForbidden(k8sClient.Create(ctx, withHostPath(plainPod(ns))),
			`violates PodSecurity "baseline:latest": hostPath volumes (volume "root")`)
		hostNet := plainPod(ns)
		hostNet.Spec.HostNetwork = true
		expectForbidden(k8sClient.Create(ctx, hostNet), `host namespaces (hostNetwork=true)`)
		Expect(k8sClient.Create(ctx, plainPod(ns))).To(Succeed())
	})

	It("enforces restricted where a namespace asks for it, and runs what meets it", func() {
		ns := labelledNamespace(map[string]string{"pod-security.kubernetes.io/enforce": "restricted"})
		expectForbidden(k8sClient.Create(ctx, plainPod(ns)), `violates PodSecurity "restricted:latest": allowPrivilegeEscalation != false (container "app" must set securityContext.allowPrivilegeEscalation=false), unrestricted capabilities (container "app" must set securityContext.capabilities.drop=["ALL"]), runAsNonRoot != true (pod or container "app" must set securityContext.runAsNonRoot=true), seccompProfile (pod or container "app" must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost")`)
		Expect(k8sClient.Create(ctx, restrictedPod(ns))).To(Succeed())
	})

	It("lets a privileged namespace run host networking and hostPath", func() {
		ns := labelledNamespace(map[string]string{"pod-security.kubernetes.io/enforce": "privileged",
			"pod-security.kubernetes.io/warn": "privileged", "pod-security.kubernetes.io/audit": "privileged"})
		p := withHostPath(privileged(plainPod(ns)))
		p.Spec.HostNetwork = true
		Expect(k8sClient.Create(ctx, p)).To(Succeed())
	})

	It("warns, without refusing, where the namespace only warns", func() {
		ns := labelledNamespace(map[string]string{"pod-security.kubernetes.io/enforce": "privileged", "pod-security.kubernetes.io/warn": "restricted"})
		w := &warnings{}
		Expect(warningClient(w).Create(ctx, plainPod(ns))).To(Succeed())
		Expect(w.take()).To(ContainElement(HavePrefix(`would violate PodSecurity "restricted:latest": allowPrivilegeEscalation != false`)))
	})

	It("warns on a workload whose pod template its pods would break, as upstream does for Deployments", func() {
		ns := labelledNamespace(nil)
		w := &warnings{}
		c := warningClient(w)
		d := fromSample("apps_v1alpha1_deployment.yaml", &appsv1alpha1.Deployment{}, ns)
		d.Spec.Template.Spec.Containers[0].SecurityContext = &corev1.SecurityContext{Privileged: ptr.To(true)}
		Expect(c.Create(ctx, d)).To(Succeed())
		Expect(w.take()).To(ContainElement(ContainSubstring(`would violate PodSecurity "baseline:latest": privileged (container "` + d.Spec.Template.Spec.Containers[0].Name + `" must not set securityContext.privileged=true)`)))

		cj := fromSample("batch_v1alpha1_cronjob.yaml", &batchv1alpha1.CronJob{}, ns)
		cj.Spec.JobTemplate.Spec.Template.Spec.HostPID = true
		Expect(c.Create(ctx, cj)).To(Succeed())
		Expect(w.take()).To(ContainElement(ContainSubstring(`host namespaces (hostPID=true)`)))
	})

	It("judges a pod update only when the spec changes, so finalizers and labels always go through", func() {
		ns := labelledNamespace(map[string]string{"pod-security.kubernetes.io/enforce": "privileged"})
		p := privileged(plainPod(ns))
		Expect(k8sClient.Create(ctx, p)).To(Succeed())
		nsObj := &corev1.Namespace{}
		Expect(k8sClient.Get(ctx, client.ObjectKey{Name: ns}, nsObj)).To(Succeed())
		nsObj.Labels["pod-security.kubernetes.io/enforce"] = "baseline"
		w := &warnings{}
		Expect(warningClient(w).Update(ctx, nsObj)).To(Succeed())
		Expect(w.take()).To(ContainElement(ContainSubstring(`existing pods in namespace "` + ns + `" violate the new PodSecurity enforce level "baseline:latest"`)))

		Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(p), p)).To(Succeed())
		p.Labels = map[string]string{"touched": "yes"}
		p.Finalizers = []string{"example.com/hold"}
		Expect(k8sClient.Update(ctx, p)).To(Succeed())
		p.Finalizers = nil
		Expect(k8sClient.Update(ctx, p)).To(Succeed())
		p.Spec.NodeName = "node-a"
		Expect(k8sClient.Update(ctx, p)).To(Succeed(), "binding a pod is not a change Pod Security judges")
		// Unlike a core Pod's, a kybern Pod's spec may change: any change is judged.
		p.Spec.ActiveDeadlineSeconds = ptr.To[int64](60)
		expectForbidden(k8sClient.Update(ctx, p), `violates PodSecurity "baseline:latest": privileged`)

		ok := plainPod(ns)
		Expect(k8sClient.Create(ctx, ok)).To(Succeed())
		ok.Spec.Containers[0].SecurityContext = &corev1.SecurityContext{Privileged: ptr.To(true)}
		expectForbidden(k8sClient.Update(ctx, ok), `violates PodSecurity "baseline:latest": privileged`)
	})
})
