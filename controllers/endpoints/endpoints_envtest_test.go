package endpoints_test

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
	"github.com/kybern/kybern/controllers/endpoints"
)

func newService(ns, name string, target intstr.IntOrString) *corev1alpha1.Service {
	s := &corev1alpha1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
	s.Spec.Selector = map[string]string{"app": name}
	s.Spec.Ports = []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: target}}
	return s
}

// newPod is a pod of app, left alone by the scheduler so that only the test changes it.
func newPod(ns, name, app string) *corev1alpha1.Pod {
	p := &corev1alpha1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: map[string]string{"app": app}}}
	p.Spec.SchedulerName = "test-scheduler"
	p.Spec.Containers = []corev1.Container{{Name: "c", Image: "busybox", Ports: []corev1.ContainerPort{{Name: "web", ContainerPort: 9000}}}}
	return p
}

// setStatus plays the node agent: the pod runs with ip, Ready or not.
func setStatus(p *corev1alpha1.Pod, ip string, ready bool) {
	GinkgoHelper()
	got := &corev1alpha1.Pod{}
	Expect(k8s.Get(ctx, client.ObjectKeyFromObject(p), got)).To(Succeed())
	orig := got.DeepCopy()
	status := corev1.ConditionFalse
	if ready {
		status = corev1.ConditionTrue
	}
	got.Status.Phase = corev1.PodRunning
	got.Status.PodIP = ip
	got.Status.PodIPs = []corev1.PodIP{{IP: ip}}
	got.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: status, LastTransitionTime: metav1.Now()}}
	Expect(k8s.Status().Patch(ctx, got, client.MergeFrom(orig))).To(Succeed())
}

// endpointsOf returns a function listing the endpoints of svc's slices by address.
func endpointsOf(svc *corev1alpha1.Service) func(Gomega) map[string]discoveryv1.Endpoint {
	return func(g Gomega) map[string]discoveryv1.Endpoint {
		out := map[string]discoveryv1.Endpoint{}
		for _, s := range slicesOf(svc)(g) {
			for _, ep := range s.Endpoints {
				out[ep.Addresses[0]] = ep
			}
		}
		return out
	}
}

func slicesOf(svc *corev1alpha1.Service) func(Gomega) []corev1alpha1.EndpointSlice {
	return func(g Gomega) []corev1alpha1.EndpointSlice {
		var list corev1alpha1.EndpointSliceList
		g.Expect(k8s.List(ctx, &list, client.InNamespace(svc.Namespace), client.MatchingLabels{endpoints.LabelServiceName: svc.Name})).To(Succeed())
		return list.Items
	}
}

func conditions(ready, serving, terminating bool) OmegaMatcher {
	return HaveField("Conditions", Equal(discoveryv1.EndpointConditions{Ready: &ready, Serving: &serving, Terminating: &terminating}))
}

var _ = Describe("EndpointSlices", func() {
	var ns string
	BeforeEach(func() {
		var err error
		ns, err = env.NewNamespace(ctx, "eps-test")
		Expect(err).NotTo(HaveOccurred())
	})

	It("follow pods becoming ready, unready, terminating and deleted", func() {
		svc := newService(ns, "web", intstr.FromInt32(8080))
		Expect(k8s.Create(ctx, svc)).To(Succeed())
		a, b := newPod(ns, "a", "web"), newPod(ns, "b", "web")
		a.Finalizers = []string{"test.kybern.io/hold"}
		Expect(k8s.Create(ctx, a)).To(Succeed())
		Expect(k8s.Create(ctx, b)).To(Succeed())
		By("leaving pods without an address out")
		Eventually(slicesOf(svc)).Should(ConsistOf(HaveField("Endpoints", BeEmpty())))

		setStatus(a, "10.244.0.10", true)
		setStatus(b, "10.244.0.11", false)
		Eventually(endpointsOf(svc)).Should(And(
			HaveKeyWithValue("10.244.0.10", And(conditions(true, true, false), HaveField("TargetRef.Name", "a"))),
			HaveKeyWithValue("10.244.0.11", conditions(false, false, false))))
		s := slicesOf(svc)(Default)[0]
		Expect(s.Ports).To(Equal([]discoveryv1.EndpointPort{{Name: ptr.To("http"), Port: ptr.To[int32](8080), Protocol: ptr.To(corev1.ProtocolTCP)}}))
		Expect(s.Labels).To(HaveKeyWithValue(endpoints.LabelManagedBy, endpoints.ManagedBy))
		Expect(metav1.GetControllerOf(&s)).To(HaveField("Name", "web"))

		setStatus(b, "10.244.0.11", true)
		setStatus(a, "10.244.0.10", false)
		Eventually(endpointsOf(svc)).Should(And(
			HaveKeyWithValue("10.244.0.10", conditions(false, false, false)),
			HaveKeyWithValue("10.244.0.11", conditions(true, true, false))))

		By("marking a ready pod being deleted serving and terminating, not ready")
		setStatus(a, "10.244.0.10", true)
		Expect(k8s.Delete(ctx, a)).To(Succeed())
		Eventually(endpointsOf(svc)).Should(HaveKeyWithValue("10.244.0.10", conditions(false, true, true)))

		By("dropping deleted pods")
		Expect(k8s.Delete(ctx, b)).To(Succeed())
		got := &corev1alpha1.Pod{}
		Expect(k8s.Get(ctx, client.ObjectKeyFromObject(a), got)).To(Succeed())
		got.Finalizers = nil
		Expect(k8s.Update(ctx, got)).To(Succeed())
		Eventually(slicesOf(svc)).Should(ConsistOf(HaveField("Endpoints", BeEmpty())))
	})

	It("resolve a named targetPort per pod", func() {
		svc := newService(ns, "named", intstr.FromString("web"))
		Expect(k8s.Create(ctx, svc)).To(Succeed())
		p := newPod(ns, "p", "named")
		Expect(k8s.Create(ctx, p)).To(Succeed())
		setStatus(p, "10.244.0.20", true)
		Eventually(slicesOf(svc)).Should(ConsistOf(And(
			HaveField("Ports", ConsistOf(HaveField("Port", HaveValue(BeEquivalentTo(9000))))),
			HaveField("Endpoints", HaveLen(1)))))
	})

	It("keep one slice without endpoints for a Service selecting nothing", func() {
		svc := newService(ns, "lonely", intstr.FromInt32(80))
		Expect(k8s.Create(ctx, svc)).To(Succeed())
		Eventually(slicesOf(svc)).Should(ConsistOf(And(HaveField("Endpoints", BeEmpty()), HaveField("AddressType", discoveryv1.AddressTypeIPv4))))
		Consistently(slicesOf(svc), "1s").Should(HaveLen(1))
	})

	It("mark unready pods ready when the Service publishes not-ready addresses", func() {
		svc := newService(ns, "publish", intstr.FromInt32(80))
		svc.Spec.PublishNotReadyAddresses = true
		Expect(k8s.Create(ctx, svc)).To(Succeed())
		p := newPod(ns, "p", "publish")
		Expect(k8s.Create(ctx, p)).To(Succeed())
		setStatus(p, "10.244.0.30", false)
		Eventually(endpointsOf(svc)).Should(HaveKeyWithValue("10.244.0.30", conditions(true, false, false)))
	})
})
