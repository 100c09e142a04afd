package e2e

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/miekg/dns"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	appsv1alpha1 "github.com/kybern/kybern/api/apps/v1alpha1"
	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
)

var _ = Describe("StatefulSets on real containers", func() {
	// Upstream's web example: a headless Service, two replicas, a claim per pod. Each
	// pod appends its host name to the page on its volume at start.
	It("runs the web example: stable names in DNS, each pod's data kept across its replacement", func() {
		startAgent("e2e-a")
		ns, err := env.NewNamespace(ctx, "e2e-sts")
		Expect(err).NotTo(HaveOccurred())
		svc := &corev1alpha1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "nginx"}}
		svc.Spec.ClusterIP = corev1.ClusterIPNone
		svc.Spec.Selector = map[string]string{"app": "nginx"}
		svc.Spec.Ports = []corev1.ServicePort{{Name: "web", Port: 80}}
		Expect(k8s.Create(ctx, svc)).To(Succeed())

		set := &appsv1alpha1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "web"}}
		set.Spec.Replicas = ptr.To[int32](2)
		set.Spec.ServiceName = "nginx"
		set.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"app": "nginx"}}
		set.Spec.Template.Labels = map[string]string{"app": "nginx"}
		set.Spec.Template.Spec.TerminationGracePeriodSeconds = ptr.To[int64](1)
		set.Spec.Template.Spec.Containers = []corev1.Container{{Name: "nginx", Image: "busybox",
			Command:        []string{"sh", "-c", "hostname >> /usr/share/nginx/html/index.html; exec httpd -f -p 80 -h /usr/share/nginx/html"},
			Ports:          []corev1.ContainerPort{{Name: "web", ContainerPort: 80}},
			ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromString("web")}}, PeriodSeconds: 1},
			VolumeMounts:   []corev1.VolumeMount{{Name: "www", MountPath: "/usr/share/nginx/html"}}}}
		set.Spec.VolumeClaimTemplates = []corev1.PersistentVolumeClaim{{ObjectMeta: metav1.ObjectMeta{Name: "www"},
			Spec: corev1.PersistentVolumeClaimSpec{AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
				Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}}}}}
		Expect(k8s.Create(ctx, set)).To(Succeed())
		DeferCleanup(func() {
			Expect(k8s.Delete(ctx, set)).To(Succeed())
			Eventually(func(g Gomega) {
				var pods corev1alpha1.PodList
				g.Expect(k8s.List(ctx, &pods, client.InNamespace(ns), client.MatchingLabels{"app": "nginx"})).To(Succeed())
				g.Expect(pods.Items).To(BeEmpty())
			}, "60s").Should(Succeed())
		})

		web0 := &corev1alpha1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "web-0"}}
		web1 := &corev1alpha1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "web-1"}}
		for _, p := range []*corev1alpha1.Pod{web0, web1} {
			Eventually(func() (corev1.ConditionStatus, error) {
				got, err := current(p)()
				if err != nil {
					return "", err
				}
				return readyCondition(got), nil
			}, "90s").Should(Equal(corev1.ConditionTrue))
		}
		for _, name := range []string{"www-web-0", "www-web-1"} {
			Eventually(func(g Gomega) {
				pvc := &corev1.PersistentVolumeClaim{}
				g.Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, pvc)).To(Succeed())
				g.Expect(pvc.Status.Phase).To(Equal(corev1.ClaimBound))
			}).Should(Succeed())
		}

		// The client finds web-0 by its stable name every second and prints its page.
		c := newPod(ns, "client", corev1.RestartPolicyNever, "sh", "-c", httpGet+
			`while true; do ip=$(nslookup web-0.nginx.`+ns+`.svc.cluster.local | awk '/^Address: / {a=$2} END {print a}'); `+
			`echo "page: $(get $ip 80 | tr '\n' ' ')"; sleep 1; done`)
		Expect(k8s.Create(ctx, c)).To(Succeed())
		Eventually(logOf(c, "main", 0), "30s").Should(ContainSubstring("stdout F page: web-0 \n"))

		By("replacing web-0, whose new pod finds the old one's data")
		old, err := current(web0)()
		Expect(err).NotTo(HaveOccurred())
		// The gateway's MAC address must not follow the pods that come and go: the other
		// pods' ARP caches would point at an address nobody has.
		bridge := bridgeOf(old.Spec.NodeName)
		Expect(os.ReadFile("/sys/class/net/"+bridge+"/addr_assign_type")).To(Equal([]byte("3\n")), "the bridge's MAC address is not set")
		mac, err := os.ReadFile("/sys/class/net/" + bridge + "/address")
		Expect(err).NotTo(HaveOccurred())
		Expect(k8s.Delete(ctx, old)).To(Succeed())
		Eventually(func(g Gomega) {
			got, err := current(web0)()
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(got.UID).NotTo(Equal(old.UID))
			g.Expect(readyCondition(got)).To(Equal(corev1.ConditionTrue))
		}, "90s").Should(Succeed())
		Eventually(logOf(c, "main", 0), 30*time.Second).Should(ContainSubstring("stdout F page: web-0 web-0 \n"), func() string {
			got, err := current(web0)()
			if err != nil {
				return err.Error()
			}
			client, err := current(c)()
			if err != nil {
				return err.Error()
			}
			neigh, _ := exec.Command("ip", "-n", "kybern-"+string(client.UID), "neigh").CombinedOutput()
			return fmt.Sprintf("web-0 has IPs %v, the client %v; the Service's EndpointSlices: %s; the node's DNS answers: %s; the client's neighbours: %s",
				got.Status.PodIPs, client.Status.PodIPs, endpointsOf(ns, "nginx"), askDNS(got, "web-0.nginx."+ns+".svc.cluster.local."), neigh)
		})
		Expect(os.ReadFile("/sys/class/net/"+bridge+"/address")).To(Equal(mac), "the bridge's MAC address changed with its ports")
		Expect(k8s.Delete(ctx, c)).To(Succeed())
	})
})

// bridgeOf is the name of node's pod bridge: the link of the route to its pod CIDR.
func bridgeOf(nodeName string) string {
	node := &corev1alpha1.Node{}
	ExpectWithOffset(1, k8s.Get(ctx, client.ObjectKey{Name: nodeName}, node)).To(Succeed())
	out, err := exec.Command("ip", "-o", "route", "show", node.Spec.PodCIDR).Output()
	ExpectWithOffset(1, err).NotTo(HaveOccurred())
	f := strings.Fields(string(out))
	for i := 0; i+1 < len(f); i++ {
		if f[i] == "dev" {
			return f[i+1]
		}
	}
	Fail("no route to pod CIDR " + node.Spec.PodCIDR + ": " + string(out))
	return ""
}

// askDNS asks the cluster DNS of pod's node, on its pod network's gateway, for name's A
// records, for a failure's message.
func askDNS(pod *corev1alpha1.Pod, name string) string {
	node := &corev1alpha1.Node{}
	if err := k8s.Get(ctx, client.ObjectKey{Name: pod.Spec.NodeName}, node); err != nil {
		return err.Error()
	}
	prefix, err := netip.ParsePrefix(node.Spec.PodCIDR)
	if err != nil {
		return err.Error()
	}
	m := new(dns.Msg)
	m.SetQuestion(name, dns.TypeA)
	r, err := dns.Exchange(m, net.JoinHostPort(prefix.Addr().Next().String(), "53"))
	if err != nil {
		return err.Error()
	}
	return fmt.Sprintf("%s %v", dns.RcodeToString[r.Rcode], r.Answer)
}

// endpointsOf describes the endpoints of service's slices, for a failure's message.
func endpointsOf(ns, service string) string {
	var slices corev1alpha1.EndpointSliceList
	if err := k8s.List(ctx, &slices, client.InNamespace(ns), client.MatchingLabels{"kubernetes.io/service-name": service}); err != nil {
		return err.Error()
	}
	var out []string
	for _, s := range slices.Items {
		for _, e := range s.Endpoints {
			out = append(out, fmt.Sprintf("%s %v ready=%v hostname=%v", s.Name, e.Addresses, ptr.Deref(e.Conditions.Ready, false), ptr.Deref(e.Hostname, "")))
		}
	}
	return strings.Join(out, "; ")
}
