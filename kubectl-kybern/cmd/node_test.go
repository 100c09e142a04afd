package cmd_test

import (
	"regexp"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gbytes"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	appsv1alpha1 "github.com/kybern/kybern/api/apps/v1alpha1"
	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
)

func newNode(name string) *corev1alpha1.Node {
	n := &corev1alpha1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}}
	ExpectWithOffset(1, k8s.Create(ctx, n)).To(Succeed())
	DeferCleanup(func() { Expect(client.IgnoreNotFound(k8s.Delete(ctx, n))).To(Succeed()) })
	return n
}

// newPod creates a pod bound to node, controlled by owner (kind/name) unless owner is "".
func newPod(ns, name, node string, owner *metav1.OwnerReference) *corev1alpha1.Pod {
	p := &corev1alpha1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec:       corev1.PodSpec{NodeName: node, Containers: []corev1.Container{{Name: "c", Image: "busybox:1"}}},
	}
	if owner != nil {
		p.OwnerReferences = []metav1.OwnerReference{*owner}
	}
	ExpectWithOffset(1, k8s.Create(ctx, p)).To(Succeed())
	return p
}

func controllerRef(kind, name string, uid types.UID) *metav1.OwnerReference {
	return &metav1.OwnerReference{APIVersion: appsv1alpha1.GroupVersion.String(), Kind: kind, Name: name, UID: uid, Controller: ptr.To(true)}
}

func exists(obj client.Object) func() error {
	return func() error { return k8s.Get(ctx, client.ObjectKeyFromObject(obj), obj) }
}

var _ = Describe("cordon and uncordon", func() {
	It("mark a node unschedulable and schedulable again", func() {
		n := newNode("cordon-1")
		Expect(kybern("cordon", "cordon-1")).To(Equal(result{Out: "node/cordon-1 cordoned\n"}))
		Expect(get(n).Spec.Unschedulable).To(BeTrue())
		Expect(kybern("cordon", "node/cordon-1")).To(Equal(result{Out: "node/cordon-1 already cordoned\n"}))
		Expect(kybern("uncordon", "cordon-1")).To(Equal(result{Out: "node/cordon-1 uncordoned\n"}))
		Expect(get(n).Spec.Unschedulable).To(BeFalse())
		Expect(kybern("uncordon", "cordon-1")).To(Equal(result{Out: "node/cordon-1 already uncordoned\n"}))
		Expect(kybern("cordon", "cordon-1", "--dry-run=server")).To(Equal(result{Out: "node/cordon-1 cordoned (server dry run)\n"}))
		Expect(get(n).Spec.Unschedulable).To(BeFalse())
	})

	It("refuses a missing node, and no node at all", func() {
		Expect(kybern("cordon", "absent")).To(Equal(result{Err: `Error from server (NotFound): nodes.core.kybern.io "absent" not found` + "\n", Code: 1}))
		r := kybern("cordon")
		Expect(r.Code).To(Equal(1))
		Expect(r.Err).To(HavePrefix("error: USAGE: cordon NODE [flags]\n"))
	})
})

var _ = Describe("drain", func() {
	var ns, node1, node2 string
	var ds *appsv1alpha1.DaemonSet

	BeforeEach(func() {
		ns = newNamespace()
		// Named after the namespace, so that no other spec's pods are bound to them.
		node1, node2 = ns+"-1", ns+"-2"
		newNode(node1)
		newNode(node2)
		ds = &appsv1alpha1.DaemonSet{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "agent"},
			Spec:       appsv1alpha1.DaemonSetSpec{DaemonSetSpec: appsv1.DaemonSetSpec{Selector: &metav1.LabelSelector{MatchLabels: labels("agent")}, Template: template("agent", "agent:1")}},
		}
		Expect(k8s.Create(ctx, ds)).To(Succeed())
	})

	It("refuses bare and DaemonSet pods without --force and --ignore-daemonsets, then deletes all but the DaemonSet's", func() {
		bare := newPod(ns, "bare", node1, nil)
		managed := newPod(ns, "managed", node1, controllerRef("ReplicaSet", "web-abc", "1234"))
		daemon := newPod(ns, "daemon", node1, controllerRef("DaemonSet", "agent", ds.UID))
		elsewhere := newPod(ns, "elsewhere", node2, nil)

		r := kybern("drain", node1)
		Expect(r.Code).To(Equal(1))
		Expect(r.Out).To(Equal("node/" + node1 + " cordoned\n"))
		refusals := "cannot delete DaemonSet-managed Pods (use --ignore-daemonsets to ignore): " + ns + "/daemon, " +
			"cannot delete Pods that declare no controller (use --force to override): " + ns + "/bare"
		Expect(r.Err).To(Equal(`error: unable to drain node "` + node1 + `" due to error: [` + refusals + "], continuing command...\n" +
			"There are pending nodes to be drained:\n " + node1 + "\n" +
			"cannot delete DaemonSet-managed Pods (use --ignore-daemonsets to ignore): " + ns + "/daemon\n" +
			"cannot delete Pods that declare no controller (use --force to override): " + ns + "/bare\n"))
		for _, p := range []*corev1alpha1.Pod{bare, managed, daemon} {
			Expect(exists(p)()).To(Succeed(), "drain deleted %s although it refused", p.Name)
		}

		r = kybern("drain", node1, "--force", "--ignore-daemonsets")
		Expect(r.Code).To(BeZero())
		Expect(r.Out).To(Equal("node/" + node1 + " already cordoned\npod/bare deleted\npod/managed deleted\nnode/" + node1 + " drained\n"))
		Expect(r.Err).To(Equal("Warning: deleting Pods that declare no controller: " + ns + "/bare; ignoring DaemonSet-managed Pods: " + ns + "/daemon\n"))
		Expect(apierrors.IsNotFound(exists(bare)())).To(BeTrue())
		Expect(apierrors.IsNotFound(exists(managed)())).To(BeTrue())
		Expect(exists(daemon)()).To(Succeed())
		Expect(exists(elsewhere)()).To(Succeed())
	})

	It("waits for a pod its node agent holds until the agent lets it go, with --grace-period as its termination grace", func() {
		held := &corev1alpha1.Pod{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "held", Finalizers: []string{corev1alpha1.NodeAgentFinalizer},
				OwnerReferences: []metav1.OwnerReference{*controllerRef("ReplicaSet", "web-abc", "1234")}},
			Spec: corev1.PodSpec{NodeName: node2, Containers: []corev1.Container{{Name: "c", Image: "busybox:1"}}},
		}
		Expect(k8s.Create(ctx, held)).To(Succeed())

		out, errOut := gbytes.NewBuffer(), gbytes.NewBuffer()
		code := make(chan int, 1)
		go func() {
			defer GinkgoRecover()
			code <- run(ctx, out, errOut, "drain", node2, "--grace-period=7", "--timeout=2m")
		}()
		Eventually(func(g Gomega) {
			g.Expect(errOut.Contents()).To(BeEmpty())
			g.Expect(exists(held)()).To(Succeed())
			g.Expect(held.DeletionTimestamp).NotTo(BeNil())
		}).Should(Succeed())
		Expect(held.Spec.TerminationGracePeriodSeconds).To(HaveValue(BeEquivalentTo(7)))
		Consistently(code, "200ms").ShouldNot(Receive(), "drain returned while the pod still exists")

		// The node agent, having stopped the pod's containers, releases it.
		patch := client.MergeFrom(held.DeepCopy())
		controllerutil.RemoveFinalizer(held, corev1alpha1.NodeAgentFinalizer)
		Expect(k8s.Patch(ctx, held, patch)).To(Succeed())
		Eventually(code).Should(Receive(BeZero()))
		Expect(string(out.Contents())).To(MatchRegexp(regexp.QuoteMeta("node/" + node2 + " cordoned\npod/held deleted\nnode/" + node2 + " drained\n")))
	})
})
