package statefulset_test

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	appsv1alpha1 "github.com/kybern/kybern/api/apps/v1alpha1"
	"github.com/kybern/kybern/test/testenv"
)

// readConfig reports whether each of the pods names of ns reads ConfigMap configMap and
// Secret secret.
func readConfig(ns, configMap, secret string, names ...string) func(Gomega) {
	return func(g Gomega) {
		ps := pods(ns)
		for _, n := range names {
			p, ok := ps[n]
			g.Expect(ok).To(BeTrue(), n)
			cm, s := testenv.ConfigOf(p.Spec)
			g.Expect([]string{cm, s}).To(Equal([]string{configMap, secret}), n)
		}
	}
}

// ownedBy reports whether obj, read again, is owned by exactly the ControllerRevisions
// revisions.
func ownedBy(obj client.Object, revisions ...string) func(Gomega) {
	var want []string
	for _, r := range revisions {
		want = append(want, "ControllerRevision/"+r)
	}
	return func(g Gomega) { g.Expect(testenv.OwnersOf(ctx, k8s, obj)()).To(ConsistOf(want)) }
}

// updateRevision waits for set's status.updateRevision to name a revision other than not,
// and returns it.
func updateRevision(set *appsv1alpha1.StatefulSet, not string) string {
	GinkgoHelper()
	var rev string
	Eventually(func(g Gomega) {
		rev = getSet(set).Status.UpdateRevision
		g.Expect(rev).NotTo(BeElementOf("", not))
	}).Should(Succeed())
	return rev
}

var _ = Describe("Configuration versioned with a StatefulSet", func() {
	It("snapshots the ConfigMaps and Secrets its template reads, rolls an edit out, and collects a snapshot with its last revision", func() {
		ns := newNamespace()
		startKubelet(ns)
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "app"}, Data: map[string]string{"GREETING": "hello"}}
		secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "app"}, Data: map[string][]byte{"token": []byte("s3cret")}}
		Expect(k8s.Create(ctx, cm)).To(Succeed())
		Expect(k8s.Create(ctx, secret)).To(Succeed())
		set := newSet(ns, "web", 2)
		set.Spec.RevisionHistoryLimit = ptr.To[int32](1)
		set.Spec.ConfigPolicy = appsv1alpha1.ConfigSnapshot
		testenv.WithConfig(&set.Spec.Template, "app")
		Expect(k8s.Create(ctx, set)).To(Succeed())

		rev1 := updateRevision(set, "")
		Eventually(runsRevision(set, rev1, "web-0", "web-1")).Should(Succeed())
		cm1, secret1 := testenv.ConfigOf(pods(ns)["web-0"].Spec)
		Expect(cm1).To(MatchRegexp(testenv.SnapshotOfApp))
		Expect(secret1).To(MatchRegexp(testenv.SnapshotOfApp))
		Eventually(readConfig(ns, cm1, secret1, "web-0", "web-1")).Should(Succeed())

		cmSnap := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: cm1}}
		Eventually(ownedBy(cmSnap, rev1)).Should(Succeed())
		Expect(cmSnap.Data).To(Equal(map[string]string{"GREETING": "hello"}))
		Expect(cmSnap.Immutable).To(Equal(ptr.To(true)))
		Expect(cmSnap.Annotations).To(HaveKeyWithValue(appsv1alpha1.SnapshotOfAnnotation, "app"))
		cmSnap.Data["GREETING"] = "tampered"
		Expect(k8s.Update(ctx, cmSnap)).To(Satisfy(apierrors.IsInvalid), "the apiserver took an edit of an immutable snapshot")
		secretSnap := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: secret1}}
		Eventually(ownedBy(secretSnap, rev1)).Should(Succeed())
		Expect(secretSnap.Data).To(Equal(map[string][]byte{"token": []byte("s3cret")}))
		Expect(secretSnap.Immutable).To(Equal(ptr.To(true)))
		Expect(secretSnap.Annotations).To(HaveKeyWithValue(appsv1alpha1.SnapshotOfAnnotation, "app"))

		By("editing the ConfigMap, which rolls every pod to a new revision reading a new snapshot")
		generation := getSet(set).Generation
		cm.Data["GREETING"] = "bye"
		Expect(k8s.Update(ctx, cm)).To(Succeed())
		rev2 := updateRevision(set, rev1)
		Eventually(runsRevision(set, rev2, "web-0", "web-1")).Should(Succeed())
		cm2, secret2 := testenv.ConfigOf(pods(ns)["web-0"].Spec)
		Expect(cm2).To(And(MatchRegexp(testenv.SnapshotOfApp), Not(Equal(cm1))))
		Expect(secret2).To(Equal(secret1), "an unchanged Secret got a new snapshot")
		Eventually(readConfig(ns, cm2, secret1, "web-0", "web-1")).Should(Succeed())
		got := getSet(set)
		Expect(got.Generation).To(Equal(generation), "the controller wrote spec")
		specConfigMap, specSecret := testenv.ConfigOf(got.Spec.Template.Spec)
		Expect([]string{specConfigMap, specSecret}).To(Equal([]string{"app", "app"}), "the controller rewrote spec.template")
		cm2Snap := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: cm2}}
		Eventually(ownedBy(cm2Snap, rev2)).Should(Succeed())
		Expect(cm2Snap.Data).To(Equal(map[string]string{"GREETING": "bye"}))
		Eventually(ownedBy(secretSnap, rev1, rev2)).Should(Succeed())

		By("dropping the history: the old snapshot goes with its revision, the current one stays")
		change(set, func(s *appsv1alpha1.StatefulSet) { s.Spec.RevisionHistoryLimit = ptr.To[int32](0) })
		Eventually(func() error { return k8s.Get(ctx, client.ObjectKeyFromObject(cmSnap), &corev1.ConfigMap{}) }).Should(Satisfy(apierrors.IsNotFound))
		Eventually(ownedBy(secretSnap, rev2)).Should(Succeed())
		Expect(k8s.Get(ctx, client.ObjectKeyFromObject(cm2Snap), &corev1.ConfigMap{})).To(Succeed())
	})
})
