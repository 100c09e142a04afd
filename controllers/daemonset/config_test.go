package daemonset_test

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	appsv1alpha1 "github.com/kybern/kybern/api/apps/v1alpha1"
	"github.com/kybern/kybern/controllers/daemonset"
	"github.com/kybern/kybern/controllers/internal/podutil"
	"github.com/kybern/kybern/test/testenv"
)

// rolledOut waits until ds runs one ready pod on each of nodes, all of one revision other
// than not, that its status counts as updated and available, and returns the revision's
// name and the ConfigMap and Secret its pods read.
func rolledOut(ds *appsv1alpha1.DaemonSet, nodes []string, not string) (revision, configMap, secret string) {
	GinkgoHelper()
	Eventually(func(g Gomega) {
		g.Expect(perNode(ds)()).To(Equal(onEach(nodes...)))
		pods := podsOf(ds)
		revision = ds.Name + "-" + pods[0].Labels[daemonset.RevisionHashLabel]
		configMap, secret = testenv.ConfigOf(pods[0].Spec)
		g.Expect(revision).NotTo(Equal(not))
		for _, p := range pods {
			g.Expect(podutil.IsReady(&p)).To(BeTrue(), p.Name)
			g.Expect(ds.Name+"-"+p.Labels[daemonset.RevisionHashLabel]).To(Equal(revision), p.Name)
			cm, s := testenv.ConfigOf(p.Spec)
			g.Expect([]string{cm, s}).To(Equal([]string{configMap, secret}), p.Name)
		}
		g.Expect(statusOf(ds)(g)).To(And(HaveField("UpdatedNumberScheduled", BeEquivalentTo(len(nodes))),
			HaveField("NumberAvailable", BeEquivalentTo(len(nodes)))))
	}).Should(Succeed())
	return revision, configMap, secret
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

var _ = Describe("Configuration versioned with a DaemonSet", func() {
	It("snapshots the ConfigMaps and Secrets its template reads, rolls an edit out, and collects a snapshot with its last revision", func() {
		ns := newNamespace()
		nodes := registerNodes(ns, "a", "b")
		startKubelet(ns)
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "app"}, Data: map[string]string{"GREETING": "hello"}}
		secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "app"}, Data: map[string][]byte{"token": []byte("s3cret")}}
		Expect(k8s.Create(ctx, cm)).To(Succeed())
		Expect(k8s.Create(ctx, secret)).To(Succeed())
		ds := newDS(ns, "agent")
		ds.Spec.RevisionHistoryLimit = ptr.To[int32](1)
		ds.Spec.ConfigPolicy = appsv1alpha1.ConfigSnapshot
		testenv.WithConfig(&ds.Spec.Template, "app")
		Expect(k8s.Create(ctx, ds)).To(Succeed())

		rev1, cm1, secret1 := rolledOut(ds, nodes, "")
		Expect(cm1).To(MatchRegexp(testenv.SnapshotOfApp))
		Expect(secret1).To(MatchRegexp(testenv.SnapshotOfApp))
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
		got := &appsv1alpha1.DaemonSet{}
		Expect(k8s.Get(ctx, client.ObjectKeyFromObject(ds), got)).To(Succeed())
		generation := got.Generation
		cm.Data["GREETING"] = "bye"
		Expect(k8s.Update(ctx, cm)).To(Succeed())
		rev2, cm2, secret2 := rolledOut(ds, nodes, rev1)
		Expect(cm2).To(And(MatchRegexp(testenv.SnapshotOfApp), Not(Equal(cm1))))
		Expect(secret2).To(Equal(secret1), "an unchanged Secret got a new snapshot")
		Expect(k8s.Get(ctx, client.ObjectKeyFromObject(ds), got)).To(Succeed())
		Expect(got.Generation).To(Equal(generation), "the controller wrote spec")
		specConfigMap, specSecret := testenv.ConfigOf(got.Spec.Template.Spec)
		Expect([]string{specConfigMap, specSecret}).To(Equal([]string{"app", "app"}), "the controller rewrote spec.template")
		cm2Snap := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: cm2}}
		Eventually(ownedBy(cm2Snap, rev2)).Should(Succeed())
		Expect(cm2Snap.Data).To(Equal(map[string]string{"GREETING": "bye"}))
		Eventually(ownedBy(secretSnap, rev1, rev2)).Should(Succeed())

		By("dropping the history: the old snapshot goes with its revision, the current one stays")
		patchDS(ds, func(ds *appsv1alpha1.DaemonSet) { ds.Spec.RevisionHistoryLimit = ptr.To[int32](0) })
		Eventually(func() error { return k8s.Get(ctx, client.ObjectKeyFromObject(cmSnap), &corev1.ConfigMap{}) }).Should(Satisfy(apierrors.IsNotFound))
		Eventually(ownedBy(secretSnap, rev2)).Should(Succeed())
		Expect(k8s.Get(ctx, client.ObjectKeyFromObject(cm2Snap), &corev1.ConfigMap{})).To(Succeed())
	})
})
