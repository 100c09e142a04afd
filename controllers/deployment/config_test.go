package deployment_test

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
	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
	"github.com/kybern/kybern/test/testenv"
)

// configOf is the ConfigMap and the Secret that the pods of rs read, by name.
func configOf(rs appsv1alpha1.ReplicaSet) (configMap, secret string) {
	return testenv.ConfigOf(rs.Spec.Template.Spec)
}

// podsReadConfig waits until all n active pods in ns read ConfigMap configMap.
func podsReadConfig(ns, configMap string, n int) func(Gomega) {
	return func(g Gomega) {
		var pods corev1alpha1.PodList
		g.Expect(k8s.List(ctx, &pods, client.InNamespace(ns))).To(Succeed())
		var count int
		for _, p := range pods.Items {
			if p.DeletionTimestamp == nil {
				g.Expect(p.Spec.Containers[0].EnvFrom[0].ConfigMapRef.Name).To(Equal(configMap), "pod %s", p.Name)
				count++
			}
		}
		g.Expect(count).To(Equal(n))
	}
}

var _ = Describe("Configuration versioned with a Deployment", func() {
	var (
		ns string
		kl *kubelet
	)
	BeforeEach(func() {
		ns = newNamespace()
		kl = startKubelet(ns)
		DeferCleanup(kl.Stop)
	})

	It("snapshots the ConfigMaps and Secrets its template reads, rolls an edit out, brings the old configuration back on undo, and collects snapshots with their ReplicaSet", func() {
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "app"}, Data: map[string]string{"GREETING": "hello"}}
		secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "app"}, Data: map[string][]byte{"token": []byte("s3cret")}}
		Expect(k8s.Create(ctx, cm)).To(Succeed())
		Expect(k8s.Create(ctx, secret)).To(Succeed())
		d := newDeployment(ns, "web", 3)
		rollingUpdate(d, 1, 0)
		d.Spec.RevisionHistoryLimit = ptr.To[int32](1)
		d.Spec.ConfigPolicy = appsv1alpha1.ConfigSnapshot
		testenv.WithConfig(&d.Spec.Template, "app")
		Expect(k8s.Create(ctx, d)).To(Succeed())
		Eventually(rolledOut(d, 3)).Should(Succeed())

		var rs1 appsv1alpha1.ReplicaSet
		Eventually(func(g Gomega) {
			sets := replicaSetsOf(d)
			g.Expect(sets).To(HaveLen(1))
			for _, rs := range sets {
				rs1 = rs
			}
		}).Should(Succeed())
		cm1, secret1 := configOf(rs1)
		Expect(cm1).To(MatchRegexp(`^app-[0-9a-f]{10}$`))
		Expect(secret1).To(MatchRegexp(`^app-[0-9a-f]{10}$`))
		snap := &corev1.ConfigMap{}
		Eventually(func(g Gomega) {
			g.Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: cm1}, snap)).To(Succeed())
			g.Expect(testenv.OwnerNames(snap)).To(ConsistOf("ReplicaSet/" + rs1.Name))
		}).Should(Succeed())
		Expect(snap.Data).To(Equal(map[string]string{"GREETING": "hello"}))
		Expect(snap.Immutable).To(Equal(ptr.To(true)))
		Expect(snap.Annotations).To(HaveKeyWithValue(appsv1alpha1.SnapshotOfAnnotation, "app"))
		secretSnap := &corev1.Secret{}
		Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: secret1}, secretSnap)).To(Succeed())
		Expect(secretSnap.Data).To(Equal(map[string][]byte{"token": []byte("s3cret")}))
		Eventually(podsReadConfig(ns, cm1, 3)).Should(Succeed())

		By("editing the ConfigMap, which rolls out as a template change does")
		generation := get(d).Generation
		cm.Data["GREETING"] = "bye"
		Expect(k8s.Update(ctx, cm)).To(Succeed())
		var rs2 appsv1alpha1.ReplicaSet
		Eventually(func(g Gomega) {
			for _, rs := range replicaSetsOf(d) {
				if name, _ := configOf(rs); name != cm1 {
					rs2 = rs
				}
			}
			g.Expect(rs2.Name).NotTo(BeEmpty())
		}).Should(Succeed())
		cm2, secret2 := configOf(rs2)
		Expect(cm2).To(MatchRegexp(`^app-[0-9a-f]{10}$`))
		Expect(secret2).To(Equal(secret1), "an unchanged Secret got a new snapshot")
		Eventually(rolledOut(d, 3)).Should(Succeed())
		Eventually(podsReadConfig(ns, cm2, 3)).Should(Succeed())
		Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: cm2}, snap)).To(Succeed())
		Expect(snap.Data).To(Equal(map[string]string{"GREETING": "bye"}))
		cur := get(d)
		Expect(cur.Generation).To(Equal(generation), "the controller wrote spec")
		Expect(cur.Spec.Template.Spec.Containers[0].EnvFrom[0].ConfigMapRef.Name).To(Equal("app"))
		Eventually(func(g Gomega) {
			g.Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: secret1}, secretSnap)).To(Succeed())
			g.Expect(testenv.OwnerNames(secretSnap)).To(ConsistOf("ReplicaSet/"+rs1.Name, "ReplicaSet/"+rs2.Name))
		}).Should(Succeed())

		By("undoing the rollout as kubectl rollout undo does: the old configuration comes back")
		update(d, func(cur *appsv1alpha1.Deployment) {
			cur.Spec.Template = *rs1.Spec.Template.DeepCopy()
			delete(cur.Spec.Template.Labels, appsv1.DefaultDeploymentUniqueLabelKey)
		})
		Eventually(rolledOut(d, 3)).Should(Succeed())
		Eventually(podsReadConfig(ns, cm1, 3)).Should(Succeed())
		Expect(replicaSetsOf(d)).To(HaveLen(2), "the undo made a new ReplicaSet instead of reusing the first")

		By("dropping the history: the snapshots of the deleted ReplicaSet go with it")
		update(d, func(cur *appsv1alpha1.Deployment) { cur.Spec.RevisionHistoryLimit = ptr.To[int32](0) })
		Eventually(func() error { return k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: cm2}, &corev1.ConfigMap{}) }).Should(Satisfy(apierrors.IsNotFound))
		Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: cm1}, &corev1.ConfigMap{})).To(Succeed())
		Eventually(func(g Gomega) {
			g.Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: secret1}, secretSnap)).To(Succeed())
			g.Expect(testenv.OwnerNames(secretSnap)).To(ConsistOf("ReplicaSet/" + rs1.Name))
		}).Should(Succeed())
	})

	It("keeps a reference to a ConfigMap that does not exist yet, and snapshots it once it does", func() {
		d := newDeployment(ns, "later", 2)
		d.Spec.ConfigPolicy = appsv1alpha1.ConfigSnapshot
		testenv.WithConfig(&d.Spec.Template, "later")
		d.Spec.Template.Spec.Containers[0].EnvFrom[0].ConfigMapRef.Optional = ptr.To(true)
		d.Spec.Template.Spec.Volumes[0].Secret.Optional = ptr.To(true)
		Expect(k8s.Create(ctx, d)).To(Succeed())
		Eventually(rolledOut(d, 2)).Should(Succeed())
		Eventually(podsReadConfig(ns, "later", 2)).Should(Succeed())

		Expect(k8s.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "later"}, Data: map[string]string{"k": "v"}})).To(Succeed())
		var snapshot string
		Eventually(func(g Gomega) {
			var names []string
			for _, rs := range replicaSetsOf(d) {
				name, _ := configOf(rs)
				names = append(names, name)
			}
			g.Expect(names).To(ContainElement(MatchRegexp(`^later-[0-9a-f]{10}$`)))
			for _, n := range names {
				if n != "later" {
					snapshot = n
				}
			}
		}).Should(Succeed())
		Eventually(rolledOut(d, 2)).Should(Succeed())
		Eventually(podsReadConfig(ns, snapshot, 2)).Should(Succeed())
	})
})
