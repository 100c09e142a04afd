package statefulset_test

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	appsv1alpha1 "github.com/kybern/kybern/api/apps/v1alpha1"
	"github.com/kybern/kybern/controllers/internal/specvalidation"
	"github.com/kybern/kybern/controllers/statefulset"
	"github.com/kybern/kybern/test/testenv"
)

var _ = Describe("StatefulSet", func() {
	It("acts on no StatefulSet upstream's validation refuses, one stored past admission: it says why, and creates no pods", func() {
		ns := newNamespace()
		set := newSet(ns, "onfailure", 2)
		set.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyOnFailure
		Expect(k8s.Create(ctx, set)).To(Succeed())
		Eventually(testenv.EventsOf(ctx, k8s, set, "StatefulSet")).Should(ContainElement(And(HaveField("Reason", specvalidation.ReasonInvalidSpec),
			HaveField("Message", ContainSubstring("spec.template.spec.restartPolicy")))))
		invalidSpec := And(HaveField("Type", BeEquivalentTo(specvalidation.ConditionReplicaFailure)), HaveField("Reason", specvalidation.ReasonInvalidSpec))
		conditions := func(g Gomega) []appsv1.StatefulSetCondition {
			got := &appsv1alpha1.StatefulSet{}
			g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(set), got)).To(Succeed())
			return got.Status.Conditions
		}
		Eventually(conditions).Should(ContainElement(invalidSpec))
		Expect(podNames(ns)).To(BeEmpty())

		By("fixing the template, which the controller then acts on")
		Expect(k8s.Get(ctx, client.ObjectKeyFromObject(set), set)).To(Succeed())
		set.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyAlways
		Expect(k8s.Update(ctx, set)).To(Succeed())
		Eventually(podNames).WithArguments(ns).ShouldNot(BeEmpty())
		Eventually(conditions).ShouldNot(ContainElement(invalidSpec))
	})

	It("creates OrderedReady pods one at a time, each once the one before is Ready, and scales down from the highest ordinal", func() {
		ns := newNamespace()
		set := newSet(ns, "web", 3)
		Expect(k8s.Create(ctx, set)).To(Succeed())

		Eventually(func(g Gomega) { g.Expect(pods(ns)["web-0"].Spec.NodeName).NotTo(BeEmpty()) }).Should(Succeed())
		Consistently(func() []string { return podNames(ns) }, "1s").Should(Equal([]string{"web-0"}))
		web0 := pods(ns)["web-0"]
		Expect(testenv.MarkReady(ctx, k8s, &web0)).To(Succeed())
		Eventually(func() []string { return podNames(ns) }).Should(Equal([]string{"web-0", "web-1"}))

		startKubelet(ns)
		Eventually(allReadyOn(ns, "busybox", "web-0", "web-1", "web-2")).Should(Succeed())
		p := pods(ns)["web-1"]
		Expect(p.Spec.Hostname).To(Equal("web-1"))
		Expect(p.Spec.Subdomain).To(Equal("web"))
		Expect(p.Labels).To(HaveKeyWithValue(statefulset.PodNameLabel, "web-1"))
		Expect(p.Labels).To(HaveKeyWithValue(statefulset.PodIndexLabel, "1"))
		Expect(p.OwnerReferences).To(HaveLen(1))
		Expect(*p.OwnerReferences[0].Controller).To(BeTrue())
		Eventually(func(g Gomega) {
			s := getSet(set).Status
			g.Expect(s.Replicas).To(BeEquivalentTo(3))
			g.Expect(s.ReadyReplicas).To(BeEquivalentTo(3))
			g.Expect(s.AvailableReplicas).To(BeEquivalentTo(3))
			g.Expect(s.CurrentReplicas).To(BeEquivalentTo(3))
			g.Expect(s.UpdatedReplicas).To(BeEquivalentTo(3))
			g.Expect(s.CurrentRevision).To(Equal(s.UpdateRevision))
			g.Expect(s.CurrentRevision).To(Equal(p.Labels[appsv1.ControllerRevisionHashLabelKey]))
			g.Expect(s.ObservedGeneration).To(Equal(getSet(set).Generation))
			g.Expect(s.LabelSelector).To(Equal("app=web"))
		}).Should(Succeed())

		rec := record(ns)
		change(set, func(s *appsv1alpha1.StatefulSet) { s.Spec.Replicas = ptr.To[int32](1) })
		Eventually(func() []string { return podNames(ns) }).Should(Equal([]string{"web-0"}))
		deleted, _ := rec.Stop()
		Expect(deleted).To(Equal([]string{"web-2", "web-1"}))
	})

	It("creates Parallel pods at once, without waiting for readiness, from ordinals.start", func() {
		ns := newNamespace()
		set := newSet(ns, "par", 3)
		set.Spec.PodManagementPolicy = appsv1.ParallelPodManagement
		set.Spec.Ordinals = &appsv1.StatefulSetOrdinals{Start: 5}
		Expect(k8s.Create(ctx, set)).To(Succeed())
		Eventually(func() []string { return podNames(ns) }).Should(Equal([]string{"par-5", "par-6", "par-7"}))
		Expect(pods(ns)["par-7"].Labels).To(HaveKeyWithValue(statefulset.PodIndexLabel, "7"))

		change(set, func(s *appsv1alpha1.StatefulSet) { s.Spec.Replicas = ptr.To[int32](1) })
		Eventually(func() []string { return podNames(ns) }).Should(Equal([]string{"par-5"}))
	})

	It("recreates a failed pod", func() {
		ns := newNamespace()
		startKubelet(ns)
		set := newSet(ns, "fail", 1)
		Expect(k8s.Create(ctx, set)).To(Succeed())
		Eventually(allReadyOn(ns, "busybox", "fail-0")).Should(Succeed())
		p := pods(ns)["fail-0"]
		orig := p.DeepCopy()
		p.Status.Phase = corev1.PodFailed
		Expect(k8s.Status().Patch(ctx, &p, client.MergeFrom(orig))).To(Succeed())
		Eventually(func(g Gomega) {
			now := pods(ns)["fail-0"]
			g.Expect(now.UID).NotTo(Equal(p.UID))
			g.Expect(now.Status.Phase).To(Equal(corev1.PodRunning))
		}).Should(Succeed())
		Eventually(hasEvent(ns, statefulset.ReasonRecreatingFailedPod)).Should(BeTrue())
	})

	Describe("claims", func() {
		It("creates a claim per template and ordinal before the pod, and deletes a condemned ordinal's claims when whenScaled is Delete", func() {
			ns := newNamespace()
			startKubelet(ns)
			set := newSet(ns, "db", 2)
			withClaims(set, appsv1.RetainPersistentVolumeClaimRetentionPolicyType, appsv1.DeletePersistentVolumeClaimRetentionPolicyType)
			Expect(k8s.Create(ctx, set)).To(Succeed())
			Eventually(allReadyOn(ns, "busybox", "db-0", "db-1")).Should(Succeed())
			Expect(claimNames(ns)).To(Equal([]string{"data-db-0", "data-db-1"}))
			vols := pods(ns)["db-1"].Spec.Volumes
			Expect(vols).To(HaveLen(1))
			Expect(vols[0].PersistentVolumeClaim).NotTo(BeNil())
			Expect(vols[0].PersistentVolumeClaim.ClaimName).To(Equal("data-db-1"))
			c := &corev1.PersistentVolumeClaim{}
			Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "data-db-1"}, c)).To(Succeed())
			Expect(c.Labels).To(HaveKeyWithValue("app", "db"))

			change(set, func(s *appsv1alpha1.StatefulSet) { s.Spec.Replicas = ptr.To[int32](1) })
			Eventually(func() []string { return podNames(ns) }).Should(Equal([]string{"db-0"}))
			Eventually(func() []string { return claimNames(ns) }).Should(Equal([]string{"data-db-0"}))

			By("scaling back up, the ordinal waits for its old claim to go, then gets a fresh one")
			change(set, func(s *appsv1alpha1.StatefulSet) { s.Spec.Replicas = ptr.To[int32](2) })
			Consistently(func() []string { return podNames(ns) }, "1s").Should(Equal([]string{"db-0"}))
			releaseDeletedClaims(ns)
			Eventually(allReadyOn(ns, "busybox", "db-0", "db-1")).Should(Succeed())
			Expect(claimNames(ns)).To(Equal([]string{"data-db-0", "data-db-1"}))
		})

		It("keeps a condemned ordinal's claims when whenScaled is Retain, and deletes every claim with the set when whenDeleted is Delete", func() {
			ns := newNamespace()
			startKubelet(ns)
			set := newSet(ns, "kv", 2)
			withClaims(set, appsv1.DeletePersistentVolumeClaimRetentionPolicyType, appsv1.RetainPersistentVolumeClaimRetentionPolicyType)
			Expect(k8s.Create(ctx, set)).To(Succeed())
			Eventually(allReadyOn(ns, "busybox", "kv-0", "kv-1")).Should(Succeed())

			change(set, func(s *appsv1alpha1.StatefulSet) { s.Spec.Replicas = ptr.To[int32](1) })
			Eventually(func() []string { return podNames(ns) }).Should(Equal([]string{"kv-0"}))
			Consistently(func() []string { return claimNames(ns) }, "1s").Should(Equal([]string{"data-kv-0", "data-kv-1"}))

			Expect(k8s.Delete(ctx, getSet(set))).To(Succeed())
			Eventually(func() []string { return claimNames(ns) }).Should(BeEmpty())
		})
	})

	Describe("updates", func() {
		It("rolls ordinals at or above the partition, highest first, then the rest when the partition drops", func() {
			ns := newNamespace()
			startKubelet(ns)
			set := newSet(ns, "roll", 4)
			set.Spec.UpdateStrategy = appsv1.StatefulSetUpdateStrategy{Type: appsv1.RollingUpdateStatefulSetStrategyType,
				RollingUpdate: &appsv1.RollingUpdateStatefulSetStrategy{Partition: ptr.To[int32](2)}}
			Expect(k8s.Create(ctx, set)).To(Succeed())
			Eventually(allReadyOn(ns, "busybox", "roll-0", "roll-1", "roll-2", "roll-3")).Should(Succeed())
			first := getSet(set).Status.CurrentRevision

			rec := record(ns, "roll-0", "roll-1", "roll-2", "roll-3")
			change(set, image("busybox:2"))
			Eventually(func(g Gomega) {
				ps := pods(ns)
				g.Expect(imageOf(ns, "roll-3")).To(Equal("busybox:2"))
				g.Expect(imageOf(ns, "roll-2")).To(Equal("busybox:2"))
				g.Expect(ps["roll-2"].Status.Phase).To(Equal(corev1.PodRunning))
				s := getSet(set).Status
				g.Expect(s.UpdatedReplicas).To(BeEquivalentTo(2))
				g.Expect(s.CurrentReplicas).To(BeEquivalentTo(2))
				g.Expect(s.CurrentRevision).To(Equal(first))
				g.Expect(s.UpdateRevision).NotTo(Equal(first))
			}).Should(Succeed())
			Consistently(func() string { return imageOf(ns, "roll-1") }, "1s").Should(Equal("busybox"))
			deleted, maxMissing := rec.Stop()
			Expect(deleted).To(Equal([]string{"roll-3", "roll-2"}))
			Expect(maxMissing).To(Equal(1))

			change(set, func(s *appsv1alpha1.StatefulSet) { s.Spec.UpdateStrategy.RollingUpdate.Partition = ptr.To[int32](0) })
			Eventually(allReadyOn(ns, "busybox:2", "roll-0", "roll-1", "roll-2", "roll-3")).Should(Succeed())
			Eventually(func(g Gomega) {
				s := getSet(set).Status
				g.Expect(s.CurrentRevision).To(Equal(s.UpdateRevision))
				g.Expect(s.CurrentReplicas).To(BeEquivalentTo(4))
			}).Should(Succeed())
		})

		It("replaces pods only when deleted under OnDelete", func() {
			ns := newNamespace()
			startKubelet(ns)
			set := newSet(ns, "od", 2)
			set.Spec.UpdateStrategy = appsv1.StatefulSetUpdateStrategy{Type: appsv1.OnDeleteStatefulSetStrategyType}
			Expect(k8s.Create(ctx, set)).To(Succeed())
			Eventually(allReadyOn(ns, "busybox", "od-0", "od-1")).Should(Succeed())
			change(set, image("busybox:2"))
			Consistently(func() []string {
				return []string{imageOf(ns, "od-0"), imageOf(ns, "od-1")}
			}, "1s").Should(Equal([]string{"busybox", "busybox"}))
			p := pods(ns)["od-1"]
			Expect(k8s.Delete(ctx, &p)).To(Succeed())
			Eventually(func(g Gomega) {
				g.Expect(imageOf(ns, "od-1")).To(Equal("busybox:2"))
				g.Expect(getSet(set).Status.UpdatedReplicas).To(BeEquivalentTo(1))
			}).Should(Succeed())
			Expect(imageOf(ns, "od-0")).To(Equal("busybox"))
		})

		It("keeps at most maxUnavailable pods down under Parallel", func() {
			ns := newNamespace()
			startKubelet(ns)
			set := newSet(ns, "mu", 4)
			set.Spec.PodManagementPolicy = appsv1.ParallelPodManagement
			two := intstr.FromInt32(2)
			set.Spec.UpdateStrategy = appsv1.StatefulSetUpdateStrategy{Type: appsv1.RollingUpdateStatefulSetStrategyType,
				RollingUpdate: &appsv1.RollingUpdateStatefulSetStrategy{MaxUnavailable: &two}}
			Expect(k8s.Create(ctx, set)).To(Succeed())
			Eventually(allReadyOn(ns, "busybox", "mu-0", "mu-1", "mu-2", "mu-3")).Should(Succeed())
			rec := record(ns, "mu-0", "mu-1", "mu-2", "mu-3")
			change(set, image("busybox:2"))
			Eventually(allReadyOn(ns, "busybox:2", "mu-0", "mu-1", "mu-2", "mu-3")).Should(Succeed())
			deleted, maxMissing := rec.Stop()
			Expect(deleted).To(ConsistOf("mu-0", "mu-1", "mu-2", "mu-3"))
			Expect(maxMissing).To(BeNumerically("<=", 2))
		})

		It("recovers an OrderedReady rollout stuck on a broken template once the template is reverted", func() {
			ns := newNamespace()
			startKubelet(ns)
			set := newSet(ns, "stuck", 3)
			Expect(k8s.Create(ctx, set)).To(Succeed())
			Eventually(allReadyOn(ns, "busybox", "stuck-0", "stuck-1", "stuck-2")).Should(Succeed())
			good := getSet(set).Status.CurrentRevision

			change(set, image(neverReady))
			Eventually(func() string { return imageOf(ns, "stuck-2") }).Should(Equal(neverReady))
			Consistently(func() string { return imageOf(ns, "stuck-1") }, "1s").Should(Equal("busybox"))

			change(set, image("busybox"))
			Eventually(allReadyOn(ns, "busybox", "stuck-0", "stuck-1", "stuck-2")).Should(Succeed())
			Eventually(hasEvent(ns, statefulset.ReasonRecreatingUnhealthyPod)).Should(BeTrue())
			Eventually(func(g Gomega) {
				s := getSet(set).Status
				g.Expect(s.UpdateRevision).To(Equal(good))
				g.Expect(s.CurrentRevision).To(Equal(good))
				g.Expect(s.ReadyReplicas).To(BeEquivalentTo(3))
			}).Should(Succeed())
		})
	})
})
