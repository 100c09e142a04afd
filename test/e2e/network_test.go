package e2e

import (
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
)

var _ = Describe("Pod networking on real containers", Ordered, func() {
	var ns string
	BeforeAll(func() {
		startAgent("e2e-a")
		startAgent("e2e-b")
	})
	BeforeEach(func() {
		var err error
		ns, err = env.NewPodSecurityNamespace(ctx, "e2e-net", "privileged")
		Expect(err).NotTo(HaveOccurred())
	})

	It("gives each pod an address from its node's pod CIDR, reachable from a pod on another node", func() {
		server := newPod(ns, "server", corev1.RestartPolicyAlways, "sh", "-c", "mkdir -p /www && echo served by $(hostname) > /www/index.html && exec httpd -f -p 8080 -h /www")
		server.Spec.NodeName = "e2e-a"
		Expect(k8s.Create(ctx, server)).To(Succeed())
		Eventually(current(server)).Should(And(HaveField("Status.Phase", corev1.PodRunning), HaveField("Status.PodIP", Not(BeEmpty()))))
		got, err := current(server)()
		Expect(err).NotTo(HaveOccurred())
		node := &corev1alpha1.Node{}
		Expect(k8s.Get(ctx, client.ObjectKey{Name: "e2e-a"}, node)).To(Succeed())
		_, cidr, err := net.ParseCIDR(node.Spec.PodCIDR)
		Expect(err).NotTo(HaveOccurred())
		Expect(cidr.Contains(net.ParseIP(got.Status.PodIP))).To(BeTrue(), "pod IP %s outside node CIDR %s", got.Status.PodIP, node.Spec.PodCIDR)
		Expect(got.Status.PodIPs).To(ConsistOf(HaveField("IP", got.Status.PodIP)))

		client := newPod(ns, "client", corev1.RestartPolicyNever, "sh", "-c", httpGet+"get "+got.Status.PodIP+" 8080; echo routes: $(ip route | grep -c default) default")
		client.Spec.NodeName = "e2e-b"
		Expect(k8s.Create(ctx, client)).To(Succeed())
		Eventually(current(client)).Should(HaveField("Status.Phase", corev1.PodSucceeded))
		Eventually(logOf(client, "main", 0)).Should(ContainSubstring("stdout F served by server"))
		Expect(logOf(client, "main", 0)()).To(ContainSubstring("stdout F routes: 0 default"), "a pod has no default route: no packet leaves the machine")
	})

	It("runs a hostNetwork pod with the node's address and name, and publishes a hostPort on the node", func() {
		node := &corev1alpha1.Node{}
		Expect(k8s.Get(ctx, client.ObjectKey{Name: "e2e-a"}, node)).To(Succeed())
		hostIP := node.Status.Addresses[0].Address
		hostName, err := os.Hostname()
		Expect(err).NotTo(HaveOccurred())

		onHost := newPod(ns, "on-host", corev1.RestartPolicyAlways, "sh", "-c", "mkdir -p /www && echo host $(hostname) > /www/index.html && exec httpd -f -p 127.0.0.1:18080 -h /www")
		onHost.Spec.HostNetwork, onHost.Spec.NodeName = true, "e2e-a"
		published := newPod(ns, "published", corev1.RestartPolicyAlways, "sh", "-c", "mkdir -p /www && echo published $(hostname) > /www/index.html && exec httpd -f -p 8080 -h /www")
		published.Spec.NodeName = "e2e-a"
		published.Spec.Containers[0].Ports = []corev1.ContainerPort{{ContainerPort: 8080, HostPort: 18081}}
		for _, p := range []*corev1alpha1.Pod{onHost, published} {
			// httpd as PID 1 ignores SIGTERM: keep the wait for SIGKILL short.
			p.Spec.TerminationGracePeriodSeconds = ptr.To[int64](1)
			Expect(k8s.Create(ctx, p)).To(Succeed())
		}

		Eventually(current(onHost)).Should(And(HaveField("Status.Phase", corev1.PodRunning), HaveField("Status.PodIP", hostIP)))
		Eventually(fetch("http://127.0.0.1:18080/"), "20s").Should(Equal("host " + hostName))
		Eventually(current(published)).Should(HaveField("Status.Phase", corev1.PodRunning))
		Eventually(fetch("http://"+net.JoinHostPort(hostIP, "18081")+"/"), "20s").Should(Equal("published published"))

		Expect(k8s.Delete(ctx, onHost)).To(Succeed())
		Expect(k8s.Delete(ctx, published)).To(Succeed())
		Eventually(func() bool {
			_, err := current(published)()
			return apierrors.IsNotFound(err)
		}, "30s").Should(BeTrue())
		Eventually(func() error {
			_, err := fetch("http://" + net.JoinHostPort(hostIP, "18081") + "/")()
			return err
		}, "30s").Should(HaveOccurred(), "the host port goes with its pod")
	})
})

// fetch GETs url from the test process and returns the body's first line, or an error.
func fetch(url string) func() (string, error) {
	return func() (string, error) {
		// A connection of its own each time: a kept-alive one outlives what it reached.
		resp, err := (&http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}).Get(url)
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		return strings.TrimSpace(string(body)), err
	}
}
