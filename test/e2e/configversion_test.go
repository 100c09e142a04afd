package e2e

import (
	"fmt"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	appsv1alpha1 "github.com/kybern/kybern/api/apps/v1alpha1"
	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
)

// greeterPod is a pod template on e2e-a whose container prints the GREETING of ConfigMap
// "greeting" and serves, or crashes when the greeting is "broken".
func greeterPod(app string) corev1.PodTemplateSpec {
	var t corev1.PodTemplateSpec
	t.Labels = map[string]string{"app": app}
	t.Spec.NodeSelector = map[string]string{corev1.LabelHostname: "e2e-a"}
	t.Spec.TerminationGracePeriodSeconds = ptr.To[int64](1)
	t.Spec.Containers = []corev1.Container{{Name: "app", Image: "busybox",
		Command: []string{"sh", "-c", `echo "greeting=$GREETING"; [ "$GREETING" != broken ] || exit 3; exec httpd -f -p 8080`},
		EnvFrom: []corev1.EnvFromSource{{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "greeting"}}}}}}
	return t
}

// greetingsRead waits until n ready pods of app run in ns, every one of which printed
// want, and returns the ConfigMap snapshot they read.
func greetingsRead(ns, app string, n int, want string) string {
	var snapshot string
	EventuallyWithOffset(1, func(g Gomega) {
		var pods corev1alpha1.PodList
		g.Expect(k8s.List(ctx, &pods, client.InNamespace(ns), client.MatchingLabels{"app": app})).To(Succeed())
		var live int
		snapshot = ""
		for i := range pods.Items {
			p := &pods.Items[i]
			if p.DeletionTimestamp != nil {
				continue
			}
			g.Expect(readyCondition(p)).To(Equal(corev1.ConditionTrue), "pod %s", p.Name)
			log, err := logOf(p, "app", int(p.Status.ContainerStatuses[0].RestartCount))()
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(log).To(ContainSubstring("greeting="+want+"\n"), "pod %s", p.Name)
			name := p.Spec.Containers[0].EnvFrom[0].ConfigMapRef.Name
			g.Expect(snapshot == "" || snapshot == name).To(BeTrue(), "pods read %s and %s", snapshot, name)
			snapshot = name
			live++
		}
		g.Expect(live).To(Equal(n))
	}, "90s").Should(Succeed())
	return snapshot
}

// podStates describes the pods in ns, for a failure's message.
func podStates(ns string) string {
	var pods corev1alpha1.PodList
	if err := k8s.List(ctx, &pods, client.InNamespace(ns)); err != nil {
		return err.Error()
	}
	var out []string
	for _, p := range pods.Items {
		out = append(out, fmt.Sprintf("%s (reads %s, deleting %v): %s %+v", p.Name, p.Spec.Containers[0].EnvFrom[0].ConfigMapRef.Name,
			p.DeletionTimestamp != nil, p.Status.Phase, p.Status.ContainerStatuses))
	}
	return strings.Join(out, "\n")
}

// editGreeting sets the GREETING of ConfigMap "greeting" in ns.
func editGreeting(ns, greeting string) {
	EventuallyWithOffset(1, func() error {
		cur := &corev1.ConfigMap{}
		if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "greeting"}, cur); err != nil {
			return err
		}
		cur.Data["GREETING"] = greeting
		return k8s.Update(ctx, cur)
	}).Should(Succeed())
}

var _ = Describe("Configuration versioned with the workload on real containers", func() {
	var ns string
	BeforeEach(func() {
		startAgent("e2e-a")
		var err error
		ns, err = env.NewNamespace(ctx, "e2e-config")
		Expect(err).NotTo(HaveOccurred())
		Expect(k8s.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "greeting"},
			Data: map[string]string{"GREETING": "hello"}})).To(Succeed())
		DeferCleanup(func() { deletePodsIn(ns) })
	})

	It("rolls a ConfigMap edit out to Deployment pods that read the new value, and rolls a crash-looping edit back to pods that read the old one", func() {
		d := &appsv1alpha1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "greeter"}}
		d.Spec.Replicas = ptr.To[int32](2)
		d.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"app": "greeter"}}
		d.Spec.Strategy = appsv1.DeploymentStrategy{Type: appsv1.RollingUpdateDeploymentStrategyType, RollingUpdate: &appsv1.RollingUpdateDeployment{
			MaxSurge: ptr.To(intstr.FromInt32(1)), MaxUnavailable: ptr.To(intstr.FromInt32(0))}}
		d.Spec.MinReadySeconds = 3 // a crashing pod, Ready for a moment, is never available
		d.Spec.ConfigPolicy = appsv1alpha1.ConfigSnapshot
		d.Spec.RollbackPolicy = &appsv1alpha1.RollbackPolicy{Triggers: &appsv1alpha1.RollbackTriggers{
			CrashLoop: &appsv1alpha1.CrashLoopTrigger{Restarts: ptr.To[int32](1)}}}
		d.Spec.Template = greeterPod("greeter")
		Expect(k8s.Create(ctx, d)).To(Succeed())
		DeferCleanup(func() { Expect(k8s.Delete(ctx, d)).To(Succeed()) })

		hello := greetingsRead(ns, "greeter", 2, "hello")
		Expect(hello).To(MatchRegexp(`^greeting-[0-9a-f]{10}$`))

		By("editing the ConfigMap: a rollout, and the new pods read the new greeting")
		editGreeting(ns, "bye")
		bye := greetingsRead(ns, "greeter", 2, "bye")
		Expect(bye).NotTo(Equal(hello))
		// The rollback goes to the last revision that completed: let this one complete.
		Eventually(func(g Gomega) {
			cur := &appsv1alpha1.Deployment{}
			g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(d), cur)).To(Succeed())
			g.Expect(cur.Status.Rollback).NotTo(BeNil())
			rs := &appsv1alpha1.ReplicaSet{}
			g.Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: cur.Status.Rollback.StableRevision}, rs)).To(Succeed())
			g.Expect(rs.Spec.Template.Spec.Containers[0].EnvFrom[0].ConfigMapRef.Name).To(Equal(bye))
		}).Should(Succeed())

		By("editing it to a greeting that crashes the pods: rolled back to the pods that read the old one")
		editGreeting(ns, "broken")
		Eventually(func(g Gomega) {
			cur := &appsv1alpha1.Deployment{}
			g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(d), cur)).To(Succeed())
			g.Expect(cur.Status.Conditions).To(ContainElement(And(HaveField("Type", appsv1.DeploymentConditionType(appsv1alpha1.RolledBack)),
				HaveField("Status", corev1.ConditionTrue), HaveField("Reason", appsv1alpha1.RollbackReasonCrashLoop))))
		}, "120s").Should(Succeed(), func() string {
			cur := &appsv1alpha1.Deployment{}
			_ = k8s.Get(ctx, client.ObjectKeyFromObject(d), cur)
			return fmt.Sprintf("status.rollback %+v\n%s", cur.Status.Rollback, podStates(ns))
		})
		Expect(greetingsRead(ns, "greeter", 2, "bye")).To(Equal(bye))
		cm := &corev1.ConfigMap{}
		Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "greeting"}, cm)).To(Succeed())
		Expect(cm.Data["GREETING"]).To(Equal("broken"), "the rollback rewrote the user's ConfigMap")
		cur := &appsv1alpha1.Deployment{}
		Expect(k8s.Get(ctx, client.ObjectKeyFromObject(d), cur)).To(Succeed())
		Expect(cur.Spec.Template.Spec.Containers[0].EnvFrom[0].ConfigMapRef.Name).To(Equal("greeting"), "the controller rewrote spec.template")
	})

	It("rolls a ConfigMap edit out to the pods of a StatefulSet and of a DaemonSet", func() {
		set := &appsv1alpha1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "db"}}
		set.Spec.Replicas = ptr.To[int32](2)
		set.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"app": "db"}}
		set.Spec.ConfigPolicy = appsv1alpha1.ConfigSnapshot
		set.Spec.Template = greeterPod("db")
		ds := &appsv1alpha1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "agent"}}
		ds.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"app": "agent"}}
		ds.Spec.ConfigPolicy = appsv1alpha1.ConfigSnapshot
		ds.Spec.Template = greeterPod("agent")
		Expect(k8s.Create(ctx, set)).To(Succeed())
		Expect(k8s.Create(ctx, ds)).To(Succeed())
		DeferCleanup(func() {
			Expect(k8s.Delete(ctx, set)).To(Succeed())
			Expect(k8s.Delete(ctx, ds)).To(Succeed())
		})
		setHello, dsHello := greetingsRead(ns, "db", 2, "hello"), greetingsRead(ns, "agent", 1, "hello")
		Expect(setHello).To(Equal(dsHello), "the same content has one snapshot")

		editGreeting(ns, "bye")
		Expect(greetingsRead(ns, "db", 2, "bye")).NotTo(Equal(setHello))
		Expect(greetingsRead(ns, "agent", 1, "bye")).NotTo(Equal(dsHello))
	})
})
