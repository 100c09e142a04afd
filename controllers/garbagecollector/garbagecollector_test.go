package garbagecollector_test

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	appsv1alpha1 "github.com/kybern/kybern/api/apps/v1alpha1"
	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
)

func newDeployment(ns, name string, replicas int32) *appsv1alpha1.Deployment {
	d := &appsv1alpha1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
	d.Spec.Replicas = ptr.To(replicas)
	d.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}}
	d.Spec.Template.Labels = map[string]string{"app": name}
	d.Spec.Template.Spec.Containers = []corev1.Container{{Name: "web", Image: "busybox"}}
	return d
}

func counts(ns string) func() [2]int {
	return func() [2]int {
		var rss appsv1alpha1.ReplicaSetList
		var pods corev1alpha1.PodList
		Expect(k8s.List(ctx, &rss, client.InNamespace(ns))).To(Succeed())
		Expect(k8s.List(ctx, &pods, client.InNamespace(ns))).To(Succeed())
		return [2]int{len(rss.Items), len(pods.Items)}
	}
}

func gone(obj client.Object) func() bool {
	return func() bool {
		return apierrors.IsNotFound(k8s.Get(ctx, client.ObjectKeyFromObject(obj), obj))
	}
}

var _ = Describe("The garbage collector", func() {
	var ns string
	BeforeEach(func() {
		var err error
		ns, err = env.NewNamespace(ctx, "gc-test")
		Expect(err).NotTo(HaveOccurred())
	})

	It("deletes a Deployment's ReplicaSet and pods in the background (kubectl delete)", func() {
		d := newDeployment(ns, "bg", 3)
		Expect(k8s.Create(ctx, d)).To(Succeed())
		Eventually(counts(ns)).Should(Equal([2]int{1, 3}))
		out, err := env.Kubectl(ctx, "delete", "-n", ns, "deployments.apps.kybern.io/bg")
		Expect(err).NotTo(HaveOccurred(), out)
		Eventually(counts(ns)).Should(Equal([2]int{0, 0}))
	})

	It("deletes dependents first in the foreground, keeping the owner until they are gone", func() {
		d := newDeployment(ns, "fg", 3)
		Expect(k8s.Create(ctx, d)).To(Succeed())
		Eventually(counts(ns)).Should(Equal([2]int{1, 3}))
		Expect(k8s.Delete(ctx, d, client.PropagationPolicy(metav1.DeletePropagationForeground))).To(Succeed())

		Expect(k8s.Get(ctx, client.ObjectKeyFromObject(d), d)).To(Succeed(), "the owner must wait for its dependents")
		Expect(d.Finalizers).To(ContainElement(metav1.FinalizerDeleteDependents))
		Eventually(gone(d)).Should(BeTrue())
		Expect(counts(ns)()).To(Equal([2]int{0, 0}), "the owner went before its dependents")
	})

	It("orphans dependents: the ReplicaSet goes, its pods stay without an owner (kubectl delete --cascade=orphan)", func() {
		d := newDeployment(ns, "orphan", 2)
		Expect(k8s.Create(ctx, d)).To(Succeed())
		Eventually(counts(ns)).Should(Equal([2]int{1, 2}))
		out, err := env.Kubectl(ctx, "delete", "-n", ns, "deployments.apps.kybern.io/orphan", "--cascade=orphan")
		Expect(err).NotTo(HaveOccurred(), out)
		Eventually(gone(d)).Should(BeTrue())

		var rss appsv1alpha1.ReplicaSetList
		Expect(k8s.List(ctx, &rss, client.InNamespace(ns))).To(Succeed())
		Expect(rss.Items).To(HaveLen(1))
		Eventually(func() []metav1.OwnerReference {
			rs := &appsv1alpha1.ReplicaSet{}
			Expect(k8s.Get(ctx, client.ObjectKeyFromObject(&rss.Items[0]), rs)).To(Succeed())
			return rs.OwnerReferences
		}).Should(BeEmpty())
		Consistently(counts(ns), "2s").Should(Equal([2]int{1, 2}))
	})

	It("keeps an object that still has an owner, dropping the reference to the gone one", func() {
		a := &corev1alpha1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "owner-a"}}
		b := &corev1alpha1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "owner-b"}}
		Expect(k8s.Create(ctx, a)).To(Succeed())
		Expect(k8s.Create(ctx, b)).To(Succeed())
		dep := &corev1alpha1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "dep", OwnerReferences: []metav1.OwnerReference{
			{APIVersion: "core.kybern.io/v1alpha1", Kind: "Service", Name: a.Name, UID: a.UID},
			{APIVersion: "core.kybern.io/v1alpha1", Kind: "Service", Name: b.Name, UID: b.UID},
		}}, AddressType: "IPv4"}
		Expect(k8s.Create(ctx, dep)).To(Succeed())
		Expect(k8s.Delete(ctx, a)).To(Succeed())
		Eventually(func() []metav1.OwnerReference {
			Expect(k8s.Get(ctx, client.ObjectKeyFromObject(dep), dep)).To(Succeed())
			return dep.OwnerReferences
		}).Should(HaveLen(1))
		Expect(dep.OwnerReferences[0].UID).To(Equal(b.UID))
	})

	It("collects dependents of an owner deleted while it was down", func() {
		d := newDeployment(ns, "down", 2)
		Expect(k8s.Create(ctx, d)).To(Succeed())
		Eventually(counts(ns)).Should(Equal([2]int{1, 2}))

		Expect(suite.RestartManager(func() {
			Expect(k8s.Delete(ctx, d, client.PropagationPolicy(metav1.DeletePropagationBackground))).To(Succeed())
			Expect(gone(d)()).To(BeTrue())
			Consistently(counts(ns), "1s").Should(Equal([2]int{1, 2}), "nothing else collects them")
		})).To(Succeed())
		Eventually(counts(ns)).Should(Equal([2]int{0, 0}))
	})
})
