package service_test

import (
	"fmt"
	"net/netip"
	"sync"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
	"github.com/kybern/kybern/controllers/service"
)

var serviceCIDR = netip.MustParsePrefix("10.96.0.0/16")

func newService(ns, name string, opts ...func(*corev1alpha1.Service)) *corev1alpha1.Service {
	s := &corev1alpha1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
	s.Spec.Selector = map[string]string{"app": name}
	s.Spec.Ports = []corev1.ServicePort{{Name: "http", Port: 80}}
	for _, o := range opts {
		o(s)
	}
	return s
}

// fetched returns a function that reads svc afresh.
func fetched(svc *corev1alpha1.Service) func(Gomega) *corev1alpha1.Service {
	return func(g Gomega) *corev1alpha1.Service {
		got := &corev1alpha1.Service{}
		g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(svc), got)).To(Succeed())
		return got
	}
}

func haveCondition(t string, status metav1.ConditionStatus, reason string) OmegaMatcher {
	return HaveField("Status.Conditions", ContainElement(And(HaveField("Type", t), HaveField("Status", status), HaveField("Reason", reason))))
}

func eventsFor(ns, name, reason string) func(Gomega) []string {
	return func(g Gomega) []string {
		var events corev1.EventList
		g.Expect(k8s.List(ctx, &events, client.InNamespace(ns))).To(Succeed())
		var out []string
		for _, e := range events.Items {
			if e.InvolvedObject.Name == name && e.Reason == reason {
				out = append(out, e.Message)
			}
		}
		return out
	}
}

var _ = Describe("Service allocation", func() {
	var ns string
	BeforeEach(func() {
		var err error
		ns, err = env.NewNamespace(ctx, "svc-test")
		Expect(err).NotTo(HaveOccurred())
	})

	It("gives 20 Services created at once 20 different addresses of the range, with upstream's defaults", func() {
		var wg sync.WaitGroup
		for i := range 20 {
			wg.Go(func() {
				defer GinkgoRecover()
				Expect(k8s.Create(ctx, newService(ns, fmt.Sprintf("s%02d", i)))).To(Succeed())
			})
		}
		wg.Wait()
		Eventually(func(g Gomega) {
			var list corev1alpha1.ServiceList
			g.Expect(k8s.List(ctx, &list, client.InNamespace(ns))).To(Succeed())
			seen := map[string]bool{}
			for _, s := range list.Items {
				ip, err := netip.ParseAddr(s.Spec.ClusterIP)
				g.Expect(err).NotTo(HaveOccurred(), "Service %s has no address yet", s.Name)
				g.Expect(serviceCIDR.Contains(ip)).To(BeTrue())
				g.Expect(seen).NotTo(HaveKey(s.Spec.ClusterIP), "two Services got %s", s.Spec.ClusterIP)
				seen[s.Spec.ClusterIP] = true
				g.Expect(s.Spec.ClusterIPs).To(Equal([]string{s.Spec.ClusterIP}))
				g.Expect(s.Spec.IPFamilies).To(Equal([]corev1.IPFamily{corev1.IPv4Protocol}))
				g.Expect(s.Spec.IPFamilyPolicy).To(HaveValue(Equal(corev1.IPFamilyPolicySingleStack)))
				g.Expect(s.Spec.Ports[0].TargetPort).To(Equal(intstr.FromInt32(80)))
				g.Expect(&s).To(haveCondition(corev1alpha1.ServiceClusterIPAllocated, metav1.ConditionTrue, service.ReasonAllocated))
			}
			g.Expect(seen).To(HaveLen(20))
		}).Should(Succeed())
	})

	It("honours a requested address, reports a second request for it, and gives a headless Service none", func() {
		first := newService(ns, "first", func(s *corev1alpha1.Service) { s.Spec.ClusterIP = "10.96.0.77" })
		Expect(k8s.Create(ctx, first)).To(Succeed())
		Eventually(fetched(first)).Should(haveCondition(corev1alpha1.ServiceClusterIPAllocated, metav1.ConditionTrue, service.ReasonAllocated))
		Expect(fetched(first)(Default).Spec.ClusterIPs).To(Equal([]string{"10.96.0.77"}))

		second := newService(ns, "second", func(s *corev1alpha1.Service) { s.Spec.ClusterIP = "10.96.0.77" })
		Expect(k8s.Create(ctx, second)).To(Succeed())
		Eventually(fetched(second)).Should(And(
			haveCondition(corev1alpha1.ServiceClusterIPAllocated, metav1.ConditionFalse, service.ReasonAlreadyAllocated),
			HaveField("Status.Conditions", ContainElement(HaveField("Message", ContainSubstring("is already allocated to Service "+ns+"/first"))))))
		Eventually(eventsFor(ns, "second", service.EventClusterIPAllocationFailed)).Should(ContainElement(ContainSubstring("spec.clusterIP 10.96.0.77")))
		Expect(fetched(second)(Default).Spec.ClusterIPs).To(BeEmpty())

		By("giving the address to the second once the first is deleted")
		Expect(k8s.Delete(ctx, first)).To(Succeed())
		Eventually(fetched(second)).Should(haveCondition(corev1alpha1.ServiceClusterIPAllocated, metav1.ConditionTrue, service.ReasonAllocated))

		headless := newService(ns, "headless", func(s *corev1alpha1.Service) { s.Spec.ClusterIP = corev1.ClusterIPNone })
		Expect(k8s.Create(ctx, headless)).To(Succeed())
		Eventually(func(g Gomega) []string { return fetched(headless)(g).Spec.ClusterIPs }).Should(Equal([]string{corev1.ClusterIPNone}))
		Expect(fetched(headless)(Default).Status.Conditions).To(BeEmpty())
	})

	It("allocates node ports, honours a requested one, and reports a conflict", func() {
		np := func(port int32) func(*corev1alpha1.Service) {
			return func(s *corev1alpha1.Service) {
				s.Spec.Type = corev1.ServiceTypeNodePort
				s.Spec.Ports[0].NodePort = port
			}
		}
		auto := newService(ns, "auto", np(0))
		Expect(k8s.Create(ctx, auto)).To(Succeed())
		Eventually(func(g Gomega) int32 { return fetched(auto)(g).Spec.Ports[0].NodePort }).Should(BeNumerically(">=", 30000))
		Expect(fetched(auto)(Default).Spec.Ports[0].NodePort).To(BeNumerically("<=", 32767))
		Eventually(fetched(auto)).Should(haveCondition(corev1alpha1.ServiceNodePortAllocated, metav1.ConditionTrue, service.ReasonAllocated))

		asked := newService(ns, "asked", np(30555))
		Expect(k8s.Create(ctx, asked)).To(Succeed())
		Eventually(fetched(asked)).Should(haveCondition(corev1alpha1.ServiceNodePortAllocated, metav1.ConditionTrue, service.ReasonAllocated))

		clash := newService(ns, "clash", np(30555))
		Expect(k8s.Create(ctx, clash)).To(Succeed())
		Eventually(fetched(clash)).Should(haveCondition(corev1alpha1.ServiceNodePortAllocated, metav1.ConditionFalse, service.ReasonAlreadyAllocated))
		Eventually(eventsFor(ns, "clash", service.EventNodePortAllocationFailed)).Should(ContainElement(
			ContainSubstring("spec.ports[0].nodePort 30555 is already allocated to Service " + ns + "/asked")))

		By("releasing the port when the holder becomes a ClusterIP Service")
		got := fetched(asked)(Default)
		got.Spec.Type = corev1.ServiceTypeClusterIP
		got.Spec.Ports[0].NodePort = 0
		Expect(k8s.Update(ctx, got)).To(Succeed())
		Eventually(fetched(clash)).Should(haveCondition(corev1alpha1.ServiceNodePortAllocated, metav1.ConditionTrue, service.ReasonAllocated))
		Eventually(fetched(asked)).ShouldNot(HaveField("Status.Conditions", ContainElement(HaveField("Type", corev1alpha1.ServiceNodePortAllocated))))
	})
})
