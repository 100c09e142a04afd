package e2e

import (
	"cmp"
	"fmt"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	gomegatypes "github.com/onsi/gomega/types"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
)

// eventsNode is the node whose agent joins with its own identity, so that its events pass
// the node agents' RBAC and the policy kybern-node-restriction.
const eventsNode = "e2e-events"

// eventsAbout lists the events whose involvedObject is the object with uid.
func eventsAbout(ns string, uid string) func() ([]corev1.Event, error) {
	return func() ([]corev1.Event, error) {
		var list corev1.EventList
		err := k8s.List(ctx, &list, client.InNamespace(ns), client.MatchingFields{"involvedObject.uid": uid})
		return list.Items, err
	}
}

// nodeEvent matches an event the agent of eventsNode recorded about a container of pod.
func nodeEvent(pod *corev1alpha1.Pod, container, eventType, reason string, message gomegatypes.GomegaMatcher) gomegatypes.GomegaMatcher {
	return And(HaveField("Type", eventType), HaveField("Reason", reason), HaveField("Message", message),
		HaveField("Source", corev1.EventSource{Component: "kybern-node-agent", Host: eventsNode}),
		HaveField("InvolvedObject.APIVersion", "core.kybern.io/v1alpha1"), HaveField("InvolvedObject.Kind", "Pod"),
		HaveField("InvolvedObject.Name", pod.Name), HaveField("InvolvedObject.FieldPath", "spec.containers{"+container+"}"))
}

var _ = Describe("Events of a node agent", Ordered, func() {
	var ns string
	BeforeAll(func() {
		join(bootstrapKubeconfig(), eventsNode)
		var err error
		ns, err = env.NewNamespace(ctx, "e2e-events")
		Expect(err).NotTo(HaveOccurred())
	})

	It("records the kubelet's events for a pod's start, its failing readiness probe, its crash loop and its deletion", func() {
		p := newPod(ns, "troubled", corev1.RestartPolicyAlways)
		p.Spec.NodeName = eventsNode
		p.Spec.TerminationGracePeriodSeconds = ptr.To[int64](1)
		p.Spec.Containers = []corev1.Container{
			{Name: "probed", Image: "busybox", Command: []string{"sleep", "3600"}, ReadinessProbe: &corev1.Probe{
				ProbeHandler:  corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"sh", "-c", "echo not ready; exit 1"}}},
				PeriodSeconds: 2, TimeoutSeconds: 1, SuccessThreshold: 1, FailureThreshold: 1}},
			{Name: "crasher", Image: "busybox", Command: []string{"sh", "-c", "exit 1"}},
		}
		Expect(k8s.Create(ctx, p)).To(Succeed())
		Eventually(eventsAbout(ns, string(p.UID))).Should(ContainElements(
			nodeEvent(p, "probed", corev1.EventTypeNormal, "Pulled", Equal(`Container image "busybox" already present on machine`)),
			nodeEvent(p, "probed", corev1.EventTypeNormal, "Created", Equal("Created container: probed")),
			nodeEvent(p, "probed", corev1.EventTypeNormal, "Started", Equal("Started container probed")),
			nodeEvent(p, "probed", corev1.EventTypeWarning, "Unhealthy", HavePrefix("Readiness probe failed: not ready")),
			nodeEvent(p, "crasher", corev1.EventTypeWarning, "BackOff",
				Equal(fmt.Sprintf("Back-off restarting failed container crasher in pod troubled_%s(%s)", ns, p.UID))),
		))

		By("showing them in kubectl describe, as a native pod's")
		out, err := env.Kubectl(ctx, "describe", "pods.core.kybern.io", "-n", ns, p.Name)
		Expect(err).NotTo(HaveOccurred(), out)
		Expect(out).To(And(ContainSubstring("Back-off restarting failed container crasher"), ContainSubstring("kybern-node-agent")))

		By("stopping the running container on deletion")
		Expect(k8s.Delete(ctx, p)).To(Succeed())
		Eventually(eventsAbout(ns, string(p.UID))).Should(ContainElement(
			nodeEvent(p, "probed", corev1.EventTypeNormal, "Killing", Equal("Stopping container probed"))))
		// The agent stops with the spec: it lets the pod go first, its containers removed.
		deletePodsIn(ns)
	})

	It("refuses a node's event that names another node as its source, or is about another node", func() {
		cfg := rest.CopyConfig(env.Config)
		cfg.Impersonate = rest.ImpersonationConfig{UserName: "kybern:node:" + eventsNode, Groups: []string{"kybern:nodes", "system:authenticated"}}
		asNode, err := client.New(cfg, client.Options{Scheme: k8s.Scheme()})
		Expect(err).NotTo(HaveOccurred())
		event := func(name, host string, about corev1.ObjectReference) *corev1.Event {
			// An event about a cluster-scoped object lives in default, as the recorder puts it.
			return &corev1.Event{ObjectMeta: metav1.ObjectMeta{Namespace: cmp.Or(about.Namespace, metav1.NamespaceDefault), Name: name}, InvolvedObject: about, Reason: "Started", Message: "Started container web",
				Type: corev1.EventTypeNormal, Source: corev1.EventSource{Component: "kybern-node-agent", Host: host}, ReportingController: "kybern-node-agent",
				ReportingInstance: host, FirstTimestamp: metav1.NewTime(time.Now()), LastTimestamp: metav1.NewTime(time.Now()), Count: 1}
		}
		pod := corev1.ObjectReference{APIVersion: "core.kybern.io/v1alpha1", Kind: "Pod", Namespace: ns, Name: "web", UID: "uid-of-web"}

		Expect(asNode.Create(ctx, event("own", eventsNode, pod))).To(Succeed())
		err = asNode.Create(ctx, event("spoofed", "e2e-other", pod))
		Expect(apierrors.IsForbidden(err)).To(BeTrue(), "%v", err)
		Expect(err.Error()).To(ContainSubstring("may record only events whose source.host and reportingInstance are " + eventsNode))
		err = asNode.Create(ctx, event("other-node", eventsNode, corev1.ObjectReference{Kind: "Node", Name: "e2e-other"}))
		Expect(apierrors.IsForbidden(err)).To(BeTrue(), "%v", err)
		Expect(err.Error()).To(ContainSubstring("may record events only about core.kybern.io Pods and its own Node"))
	})
})
