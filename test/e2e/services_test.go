package e2e

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	appsv1alpha1 "github.com/kybern/kybern/api/apps/v1alpha1"
	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
)

// hostsSeen are the distinct lines the client pod logged since it had logged skip lines.
func hostsSeen(p *corev1alpha1.Pod, skip int) func() (map[string]bool, error) {
	return func() (map[string]bool, error) {
		out, err := logOf(p, "client", 0)()
		if err != nil {
			return nil, err
		}
		seen := map[string]bool{}
		lines := strings.Split(strings.TrimSpace(out), "\n")
		for _, l := range lines[min(skip, len(lines)):] {
			if f := strings.Fields(l); len(f) == 4 {
				seen[f[3]] = true
			}
		}
		return seen, nil
	}
}

var _ = Describe("Services on real containers", Ordered, func() {
	It("balances a Service's name and virtual IP across its ready pods on both nodes, and serves its node port", func() {
		startAgent("e2e-a")
		startAgent("e2e-b")
		ns, err := env.NewPodSecurityNamespace(ctx, "e2e-svc", "privileged")
		Expect(err).NotTo(HaveOccurred())
		// A pod is ready until a file named after it appears in this directory.
		flags := GinkgoT().TempDir()
		Expect(os.Chmod(flags, 0o755)).To(Succeed())

		d := &appsv1alpha1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "web"}}
		d.Spec.Replicas = ptr.To[int32](3)
		d.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}
		d.Spec.Template.Labels = map[string]string{"app": "web"}
		d.Spec.Template.Spec.TopologySpreadConstraints = []corev1.TopologySpreadConstraint{{MaxSkew: 1, TopologyKey: corev1.LabelHostname,
			WhenUnsatisfiable: corev1.DoNotSchedule, LabelSelector: d.Spec.Selector}}
		d.Spec.Template.Spec.Containers = []corev1.Container{{Name: "web", Image: "busybox",
			Command: []string{"sh", "-c", "mkdir -p /www && hostname > /www/index.html && exec httpd -f -p 8080 -h /www"},
			Ports:   []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}},
			ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{
				Command: []string{"sh", "-c", `test ! -e /flags/unready-$(hostname)`}}}, PeriodSeconds: 1},
			VolumeMounts: []corev1.VolumeMount{{Name: "flags", MountPath: "/flags"}}}}
		d.Spec.Template.Spec.Volumes = []corev1.Volume{{Name: "flags", VolumeSource: corev1.VolumeSource{
			HostPath: &corev1.HostPathVolumeSource{Path: flags, Type: ptr.To(corev1.HostPathDirectory)}}}}
		Expect(k8s.Create(ctx, d)).To(Succeed())

		// A malformed Service: admission refuses it, and one stored past admission (on a
		// cluster without the webhook) has its bad ports left out by the proxy, which
		// programs every other Service's.
		broken := &corev1alpha1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "broken"}}
		broken.Spec.Ports = []corev1.ServicePort{{Name: "too-high", Port: 70000}, {Name: "foo", Port: 81, Protocol: "FOO"}}
		err = k8s.Create(ctx, broken)
		Expect(apierrors.IsInvalid(err)).To(BeTrue(), "admission refuses the ports: %v", err)
		Expect(err.Error()).To(And(ContainSubstring("spec.ports[0].port"), ContainSubstring("spec.ports[1].protocol")))
		withoutAdmission(func() { Expect(k8s.Create(ctx, broken)).To(Succeed()) })

		svc := &corev1alpha1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "web"}}
		svc.Spec.Type = corev1.ServiceTypeNodePort
		svc.Spec.Selector = map[string]string{"app": "web"}
		svc.Spec.Ports = []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromString("http")}}
		Expect(k8s.Create(ctx, svc)).To(Succeed())
		empty := &corev1alpha1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "nobody"}}
		empty.Spec.Selector = map[string]string{"app": "nobody"}
		empty.Spec.Ports = []corev1.ServicePort{{Port: 80}}
		Expect(k8s.Create(ctx, empty)).To(Succeed())
		sticky := &corev1alpha1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "sticky"}}
		sticky.Spec.Selector = map[string]string{"app": "web"}
		sticky.Spec.Ports = []corev1.ServicePort{{Port: 80, TargetPort: intstr.FromInt32(8080)}}
		sticky.Spec.SessionAffinity = corev1.ServiceAffinityClientIP
		Expect(k8s.Create(ctx, sticky)).To(Succeed())

		var pods corev1alpha1.PodList
		Eventually(func(g Gomega) {
			g.Expect(k8s.List(ctx, &pods, client.InNamespace(ns), client.MatchingLabels{"app": "web"})).To(Succeed())
			g.Expect(pods.Items).To(HaveLen(3))
			nodes := map[string]bool{}
			for _, p := range pods.Items {
				g.Expect(readyCondition(&p)).To(Equal(corev1.ConditionTrue))
				nodes[p.Spec.NodeName] = true
			}
			g.Expect(nodes).To(HaveLen(2), "the pods are spread over both nodes")
		}, "90s").Should(Succeed())

		// The client looks the Service up by name, then asks its virtual IP every 200 ms and
		// logs who answered; asking the Service without endpoints must be refused at once.
		lookup := func(name string) string {
			return `$(nslookup ` + name + `.` + ns + `.svc.cluster.local | awk '/^Address: / {a=$2} END {print a}')`
		}
		c := newPod(ns, "client", corev1.RestartPolicyNever, "sh", "-c", httpGet+
			`nobody=`+lookup("nobody")+`; web=`+lookup("web")+`; sticky=`+lookup("sticky")+`; echo "resolved nobody=$nobody web=$web"; `+
			`get $nobody 80; until [ -n "$(get $sticky 80)" ]; do sleep 0.2; done; `+
			`for i in 1 2 3 4 5 6 7 8 9 10; do echo "sticky $(get $sticky 80)"; done; `+
			`while true; do get $web 80; sleep 0.2; done`)
		c.Spec.Containers[0].Name = "client"
		c.Spec.NodeName = "e2e-a"
		Expect(k8s.Create(ctx, c)).To(Succeed())
		want := map[string]bool{}
		for _, p := range pods.Items {
			want[p.Name] = true
		}
		Eventually(func(g Gomega) {
			g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(svc), svc)).To(Succeed())
			g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(empty), empty)).To(Succeed())
		}).Should(Succeed())
		Eventually(logOf(c, "client", 0), "30s").Should(And(
			ContainSubstring("resolved nobody="+empty.Spec.ClusterIP+" web="+svc.Spec.ClusterIP),
			ContainSubstring("can't connect to remote host ("+empty.Spec.ClusterIP+"): Connection refused")))
		Eventually(hostsSeen(c, 2), "60s").Should(Equal(want), "every pod answers, on both nodes")

		By("keeping a client on one pod under sessionAffinity ClientIP")
		log, err := logOf(c, "client", 0)()
		Expect(err).NotTo(HaveOccurred())
		var stuck []string
		for _, l := range strings.Split(log, "\n") {
			if _, host, ok := strings.Cut(l, " stdout F sticky "); ok {
				stuck = append(stuck, host)
			}
		}
		Expect(stuck).To(HaveLen(10))
		Expect(stuck).To(HaveEach(Equal(stuck[0])))
		Expect(want).To(HaveKey(stuck[0]))

		By("dropping a pod that turns unready")
		gone := pods.Items[0].Name
		Expect(os.WriteFile(filepath.Join(flags, "unready-"+gone), nil, 0o644)).To(Succeed())
		Eventually(func() (corev1.ConditionStatus, error) {
			p, err := current(&pods.Items[0])()
			if err != nil {
				return "", err
			}
			return readyCondition(p), nil
		}, "20s").Should(Equal(corev1.ConditionFalse))
		log, err = logOf(c, "client", 0)()
		Expect(err).NotTo(HaveOccurred())
		// Give the proxies a moment to drop it, then count answers from there on.
		time.Sleep(3 * time.Second)
		skip := len(strings.Split(strings.TrimSpace(log), "\n")) + 15
		delete(want, gone)
		Eventually(hostsSeen(c, skip), "30s").Should(Equal(want))
		Consistently(hostsSeen(c, skip), "3s").Should(Equal(want))

		By("serving the node port on the host's address")
		Eventually(func(g Gomega) {
			g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(svc), svc)).To(Succeed())
			g.Expect(svc.Spec.Ports[0].NodePort).NotTo(BeZero())
		}).Should(Succeed())
		node := &corev1alpha1.Node{}
		Expect(k8s.Get(ctx, client.ObjectKey{Name: "e2e-a"}, node)).To(Succeed())
		url := fmt.Sprintf("http://%s/", net.JoinHostPort(node.Status.Addresses[0].Address, fmt.Sprint(svc.Spec.Ports[0].NodePort)))
		Eventually(fetch(url), "20s").Should(BeKeyOf(want))

		Expect(k8s.Delete(ctx, d)).To(Succeed())
		Expect(k8s.Delete(ctx, c)).To(Succeed())
	})
})
