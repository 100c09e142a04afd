package agent_test

import (
	"context"
	"path/filepath"
	goruntime "runtime"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"k8s.io/utils/clock"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"

	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
	"github.com/kybern/kybern/node-agent/agent"
	"github.com/kybern/kybern/node-agent/runtime/simulated"
	"github.com/kybern/kybern/test/testenv"
)

// restricted is a node whose agent authenticates as itself, kybern:node:restricted in the
// group kybern:nodes, with only the RBAC of config/rbac/node-agent.
const restricted = "restricted"

// startRestrictedAgent runs the agent of node restricted under its own identity until the
// spec ends, and returns a client with that identity.
func startRestrictedAgent() client.Client {
	out, err := env.Kubectl(ctx, "apply", "--server-side", "-f", filepath.Join(testenv.RepoRoot(), "config", "rbac", "node-agent"))
	Expect(err).NotTo(HaveOccurred(), out)

	cfg := rest.CopyConfig(env.Config)
	cfg.QPS, cfg.Burst = -1, 0
	cfg.Impersonate = rest.ImpersonationConfig{UserName: "kybern:node:" + restricted, Groups: []string{"kybern:nodes", "system:authenticated"}}
	httpClient, err := rest.HTTPClientFor(cfg)
	Expect(err).NotTo(HaveOccurred())
	mapper, err := apiutil.NewDynamicRESTMapper(cfg, httpClient)
	Expect(err).NotTo(HaveOccurred())
	shared := agent.Shared{Rest: cfg, HTTP: httpClient, Mapper: mapper, Scheme: k8s.Scheme(), Clock: clock.RealClock{},
		Log: ctrl.Log.WithName("node-agent")}
	// Room for one pod, so that no other spec's pods are placed here.
	capacity := corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1"), corev1.ResourceMemory: resource.MustParse("1Gi"),
		corev1.ResourcePods: resource.MustParse("1")}
	a, err := agent.New(shared, agent.Config{NodeName: restricted, Arch: goruntime.GOARCH, Capacity: capacity, Address: "127.0.0.1",
		NodeInfo: corev1.NodeSystemInfo{ContainerRuntimeVersion: "simulated://1.0"}, LogDir: GinkgoT().TempDir(), PodDir: GinkgoT().TempDir(), RuntimeName: "simulated"},
		simulated.New(clock.RealClock{}, 50*time.Millisecond))
	Expect(err).NotTo(HaveOccurred())

	agentCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer GinkgoRecover()
		defer close(done)
		if err := a.Run(agentCtx); err != nil && agentCtx.Err() == nil {
			Fail("the restricted agent stopped: " + err.Error())
		}
	}()
	DeferCleanup(func() {
		stop()
		<-done
		Expect(client.IgnoreNotFound(k8s.Delete(ctx, &corev1alpha1.Node{ObjectMeta: metav1.ObjectMeta{Name: restricted}}))).To(Succeed())
	})

	c, err := client.New(cfg, client.Options{Scheme: k8s.Scheme(), HTTPClient: httpClient, Mapper: mapper})
	Expect(err).NotTo(HaveOccurred())
	return c
}

// impersonating is a client acting as user in groups, with the RBAC of config/rbac/node-agent.
func impersonating(user string, groups ...string) client.Client {
	cfg := rest.CopyConfig(env.Config)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: user, Groups: append(groups, "system:authenticated")}
	c, err := client.New(cfg, client.Options{Scheme: k8s.Scheme()})
	Expect(err).NotTo(HaveOccurred())
	return c
}

var _ = Describe("Node restriction", func() {
	It("binds on the group RBAC binds: a member of kybern:nodes that is no node identity is refused", func() {
		out, err := env.Kubectl(ctx, "apply", "--server-side", "-f", filepath.Join(testenv.RepoRoot(), "config", "rbac", "node-agent"))
		Expect(err).NotTo(HaveOccurred(), out)
		mallory := impersonating("mallory", "kybern:nodes")
		node := &corev1alpha1.Node{ObjectMeta: metav1.ObjectMeta{Name: "mallory"}}
		err = mallory.Create(ctx, node)
		Expect(apierrors.IsForbidden(err)).To(BeTrue(), "creating a Node as mallory: %v", err)
		Expect(err.Error()).To(ContainSubstring("user mallory is in group kybern:nodes but is no node identity"))
	})

	It("lets a node register without a pod CIDR only: node lifecycle assigns it", func() {
		out, err := env.Kubectl(ctx, "apply", "--server-side", "-f", filepath.Join(testenv.RepoRoot(), "config", "rbac", "node-agent"))
		Expect(err).NotTo(HaveOccurred(), out)
		fresh := impersonating("kybern:node:fresh", "kybern:nodes")
		node := &corev1alpha1.Node{ObjectMeta: metav1.ObjectMeta{Name: "fresh"}, Spec: corev1.NodeSpec{PodCIDR: "10.244.0.0/24"}}
		err = fresh.Create(ctx, node)
		Expect(apierrors.IsForbidden(err)).To(BeTrue(), "registering with another node's pod CIDR: %v", err)
		Expect(err.Error()).To(ContainSubstring("node agent fresh may not set spec.podCIDR or spec.podCIDRs of its Node"))
	})
})

var _ = Describe("A node agent under its own node identity", func() {
	It("runs its pods with the generated RBAC, and may change only its own Node, Lease and pods", func() {
		ns, err := env.NewNamespace(ctx, "restricted")
		Expect(err).NotTo(HaveOccurred())
		asNode := startRestrictedAgent()
		claimSpec := corev1.PersistentVolumeClaimSpec{AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}}}

		Expect(k8s.Create(ctx, &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "mine"},
			Spec: claimSpec})).To(Succeed())
		own := barePod(ns, "own", corev1.RestartPolicyAlways, "sleep", "3600")
		own.Spec.NodeName = restricted
		own.Spec.Volumes = []corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{
			PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "mine"}}}}
		Expect(k8s.Create(ctx, own)).To(Succeed())
		Eventually(getPod(ns, own.Name)).Should(And(HaveField("Status.Phase", corev1.PodRunning),
			HaveField("Finalizers", ContainElement(corev1alpha1.NodeAgentFinalizer))))
		claim := &corev1.PersistentVolumeClaim{}
		Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "mine"}, claim)).To(Succeed())
		Expect(claim.Annotations).To(HaveKeyWithValue("volume.kubernetes.io/selected-node", restricted))
		Expect(claim.Status.Phase).To(Equal(corev1.ClaimBound))

		By("being refused a claim no pod of it uses, and one its pod uses that is selected for another node")
		theirs := &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "theirs",
			Annotations: map[string]string{"volume.kubernetes.io/selected-node": nodes[0]}},
			Spec: claimSpec}
		Expect(k8s.Create(ctx, theirs)).To(Succeed())
		patch := client.MergeFrom(theirs.DeepCopy())
		theirs.Annotations["volume.kubernetes.io/selected-node"] = restricted
		err = asNode.Patch(ctx, theirs, patch)
		Expect(apierrors.IsForbidden(err)).To(BeTrue(), "taking over a claim of %s: %v", nodes[0], err)
		Expect(err.Error()).To(ContainSubstring(`cannot patch resource "persistentvolumeclaims"`), "no grant names the claim")

		// The node authorizer grants the claim once a pod of the node uses it; the policy
		// still keeps the node from taking it over.
		taker := barePod(ns, "taker", corev1.RestartPolicyAlways, "sleep", "3600")
		taker.Spec.NodeName = restricted
		taker.Spec.Volumes = []corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{
			PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "theirs"}}}}
		Expect(k8s.Create(ctx, taker)).To(Succeed())
		Eventually(func() error {
			return asNode.Get(ctx, client.ObjectKeyFromObject(theirs), &corev1.PersistentVolumeClaim{})
		}).Should(Succeed())
		err = asNode.Patch(ctx, theirs, patch)
		Expect(apierrors.IsForbidden(err)).To(BeTrue(), "taking over a claim of %s its pod uses: %v", nodes[0], err)
		Expect(err.Error()).To(ContainSubstring("may only select persistentvolumeclaim " + ns + "/theirs for itself"))

		By("changing its own Node")
		node := &corev1alpha1.Node{}
		Expect(asNode.Get(ctx, client.ObjectKey{Name: restricted}, node)).To(Succeed())
		patch = client.MergeFrom(node.DeepCopy())
		node.Labels["example.com/rack"] = "r1"
		Expect(asNode.Patch(ctx, node, patch)).To(Succeed())

		By("being refused its taints, its cordon, and the labels upstream's kubelet may not set")
		for change, want := range map[string]func(*corev1alpha1.Node){
			"may not change the taints of its Node": func(n *corev1alpha1.Node) { n.Spec.Taints = nil },
			"may not cordon or uncordon its Node":   func(n *corev1alpha1.Node) { n.Spec.Unschedulable = true },
			"may not set, change or remove the labels node-restriction.kubernetes.io/pool of its Node": func(n *corev1alpha1.Node) {
				n.Labels["node-restriction.kubernetes.io/pool"] = "gold"
			},
			"may not set, change or remove the labels node-role.kubernetes.io/control-plane of its Node": func(n *corev1alpha1.Node) {
				n.Labels["node-role.kubernetes.io/control-plane"] = ""
			},
			"may not set, change or remove the labels example.k8s.io/trusted of its Node": func(n *corev1alpha1.Node) {
				n.Labels["example.k8s.io/trusted"] = "true"
			},
		} {
			Expect(asNode.Get(ctx, client.ObjectKey{Name: restricted}, node)).To(Succeed())
			if strings.Contains(change, "taints") {
				// An administrator's taint, which the node would lift.
				tainted := node.DeepCopy()
				tainted.Spec.Taints = []corev1.Taint{{Key: "example.com/dedicated", Effect: corev1.TaintEffectNoSchedule}}
				Expect(k8s.Patch(ctx, tainted, client.MergeFrom(node))).To(Succeed())
				node = tainted
			}
			patch = client.MergeFrom(node.DeepCopy())
			want(node)
			err = asNode.Patch(ctx, node, patch)
			Expect(apierrors.IsForbidden(err)).To(BeTrue(), "%s: %v", change, err)
			Expect(err.Error()).To(ContainSubstring(change))
		}
		Expect(asNode.Get(ctx, client.ObjectKey{Name: restricted}, node)).To(Succeed())
		patch = client.MergeFrom(node.DeepCopy())
		node.Labels["topology.kubernetes.io/zone"] = "z1"
		node.Labels["node.kubernetes.io/instance-type"] = "small"
		Expect(asNode.Patch(ctx, node, patch)).To(Succeed(), "labels upstream's kubelet sets itself")

		By("being refused another node's Node and Lease")
		other := &corev1alpha1.Node{}
		Expect(asNode.Get(ctx, client.ObjectKey{Name: nodes[0]}, other)).To(Succeed())
		patch = client.MergeFrom(other.DeepCopy())
		other.Labels["example.com/rack"] = "r1"
		err = asNode.Patch(ctx, other, patch)
		Expect(apierrors.IsForbidden(err)).To(BeTrue(), "patching Node %s: %v", nodes[0], err)
		Expect(err.Error()).To(ContainSubstring("node agent restricted may change only Node restricted, not Node " + nodes[0]))

		lease := &coordinationv1.Lease{}
		Expect(asNode.Get(ctx, client.ObjectKey{Namespace: agent.LeaseNamespace, Name: nodes[0]}, lease)).To(Succeed())
		lease.Spec.HolderIdentity = ptr.To(restricted)
		err = asNode.Update(ctx, lease)
		Expect(apierrors.IsForbidden(err)).To(BeTrue(), "updating Lease %s: %v", nodes[0], err)
		Expect(err.Error()).To(ContainSubstring("may change only Lease kybern-node-lease/restricted"))

		By("being refused a pod bound elsewhere, and anything of its own pods but status and finalizers")
		elsewhere := barePod(ns, "elsewhere", corev1.RestartPolicyAlways, "sleep", "3600")
		elsewhere.Spec.NodeName = nodes[0]
		Expect(k8s.Create(ctx, elsewhere)).To(Succeed())
		Eventually(getPod(ns, elsewhere.Name)).Should(HaveField("Status.Phase", corev1.PodRunning))
		got, err := getPod(ns, elsewhere.Name)()
		Expect(err).NotTo(HaveOccurred())
		patch = client.MergeFrom(got.DeepCopy())
		got.Status.Message = "mine now"
		err = asNode.Status().Patch(ctx, got, patch)
		Expect(apierrors.IsForbidden(err)).To(BeTrue(), "patching the status of a pod on %s: %v", nodes[0], err)
		Expect(err.Error()).To(ContainSubstring(`may only update pods bound to it; pod ` + ns + `/elsewhere is bound to "` + nodes[0] + `"`))

		mine, err := getPod(ns, own.Name)()
		Expect(err).NotTo(HaveOccurred())
		patch = client.MergeFrom(mine.DeepCopy())
		mine.Labels = map[string]string{"tampered": "true"}
		err = asNode.Patch(ctx, mine, patch)
		Expect(apierrors.IsForbidden(err)).To(BeTrue(), "relabelling its own pod: %v", err)
		Expect(err.Error()).To(ContainSubstring("may change only the status and finalizers of pod " + ns + "/own"))

		err = asNode.Create(ctx, barePod(ns, "made-by-node", corev1.RestartPolicyAlways, "sleep", "1"))
		Expect(apierrors.IsForbidden(err)).To(BeTrue(), "creating a pod: %v", err)

		mine, err = getPod(ns, own.Name)()
		Expect(err).NotTo(HaveOccurred())
		patch = client.MergeFrom(mine.DeepCopy())
		mine.Finalizers = append(mine.Finalizers, "example.com/keep")
		err = asNode.Patch(ctx, mine, patch)
		Expect(apierrors.IsForbidden(err)).To(BeTrue(), "adding another component's finalizer: %v", err)
		Expect(err.Error()).To(ContainSubstring("may add and remove only its own finalizer core.kybern.io/node-agent of pod " + ns + "/own"))

		By("finishing its own pod's deletion")
		for _, p := range []*corev1alpha1.Pod{own, elsewhere, taker} {
			Expect(k8s.Delete(ctx, p)).To(Succeed())
			Eventually(func() bool {
				_, err := getPod(ns, p.Name)()
				return apierrors.IsNotFound(err)
			}).Should(BeTrue())
		}
	})
})
