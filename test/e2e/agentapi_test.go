package e2e

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"

	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
)

// apiNode joins with its own identity, so that the cluster issues its API a serving
// certificate, as for any node that joins with a bootstrap token.
const apiNode = "e2e-api"

// plugin runs kubectl-kybern with the admin's kubeconfig in ns.
func plugin(ctx context.Context, ns string, args ...string) *exec.Cmd {
	return exec.CommandContext(ctx, filepath.Join(work, "kubectl-kybern"), append([]string{"--kubeconfig", env.Kubeconfig, "-n", ns}, args...)...)
}

var _ = Describe("kubectl kybern logs, exec and port-forward through the node agent's API", Ordered, func() {
	var ns string
	BeforeAll(func() {
		join(bootstrapKubeconfig(), apiNode)
		var err error
		ns, err = env.NewPodSecurityNamespace(ctx, "e2e-api", "baseline")
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(func() { deletePodsIn(ns) })
	})

	onAPINode := func(name string, policy corev1.RestartPolicy, command ...string) *corev1alpha1.Pod {
		p := newPod(ns, name, policy, command...)
		p.Spec.NodeName = apiNode
		p.Spec.TerminationGracePeriodSeconds = ptr.To[int64](1)
		Expect(k8s.Create(ctx, p)).To(Succeed())
		Eventually(current(p)).Should(HaveField("Status.Phase", corev1.PodRunning))
		return p
	}

	It("follows a log and sees a line written after the call started, and reads a crashed container's previous log", func() {
		onAPINode("talker", corev1.RestartPolicyAlways, "sh", "-c", "echo started; while true; do if [ -f /tmp/go ]; then echo later-line; rm /tmp/go; fi; sleep 0.2; done")
		Eventually(func() (string, error) {
			out, err := plugin(ctx, ns, "logs", "talker").CombinedOutput()
			return string(out), err
		}).Should(Equal("started\n"))
		follow := plugin(ctx, ns, "logs", "-f", "talker")
		follow.Stderr = GinkgoWriter
		stdout, err := follow.StdoutPipe()
		Expect(err).NotTo(HaveOccurred())
		Expect(follow.Start()).To(Succeed())
		DeferCleanup(func() { _ = follow.Process.Kill(); _ = follow.Wait() })
		lines := make(chan string, 10)
		go func() {
			scanner := bufio.NewScanner(stdout)
			for scanner.Scan() {
				lines <- scanner.Text()
			}
			close(lines)
		}()
		Eventually(lines).Should(Receive(Equal("started")))
		out, err := plugin(ctx, ns, "exec", "talker", "--", "touch", "/tmp/go").CombinedOutput()
		Expect(err).NotTo(HaveOccurred(), string(out))
		Eventually(lines).Should(Receive(Equal("later-line")))

		crasher := onAPINodeCrashing(ns, "crasher")
		Eventually(current(crasher)).Should(HaveField("Status.ContainerStatuses", ContainElement(HaveField("RestartCount", BeNumerically(">=", 1)))))
		out, err = plugin(ctx, ns, "logs", "--previous", "crasher").CombinedOutput()
		Expect(err).NotTo(HaveOccurred(), string(out))
		Expect(string(out)).To(Equal("about to crash\n"))
	})

	It("runs a command with stdin and exits with its exit code, and a session under a pseudo-terminal", func() {
		onAPINode("shell", corev1.RestartPolicyAlways, "sleep", "3600")
		cmd := plugin(ctx, ns, "exec", "-i", "shell", "--", "sh", "-c", "read x; echo got $x; echo oops >&2; exit 7")
		cmd.Stdin = strings.NewReader("hello\n")
		var stdout, stderr strings.Builder
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		Expect(err).To(HaveOccurred())
		Expect(cmd.ProcessState.ExitCode()).To(Equal(7), stderr.String())
		Expect(stdout.String()).To(Equal("got hello\n"))
		Expect(stderr.String()).To(ContainSubstring("oops"))
		Expect(stderr.String()).To(ContainSubstring("command terminated with exit code 7"))

		// script gives the plugin a pseudo-terminal as its stdin and stdout.
		session := exec.CommandContext(ctx, "script", "-qec", fmt.Sprintf("%s --kubeconfig %s -n %s exec -it shell -- sh -c 'tty; stty size; read x; echo typed:$x'",
			filepath.Join(work, "kubectl-kybern"), env.Kubeconfig, ns), "/dev/null")
		session.Stdin = strings.NewReader("interactive\r")
		out, err := session.CombinedOutput()
		Expect(err).NotTo(HaveOccurred(), string(out))
		Expect(string(out)).To(MatchRegexp(`/dev/pts/\d+`))
		Expect(string(out)).To(ContainSubstring("typed:interactive"))
	})

	It("forwards a local port to a busybox httpd in the pod", func() {
		onAPINode("web", corev1.RestartPolicyAlways, "sh", "-c", "mkdir -p /www && echo forwarded-page > /www/index.html && exec httpd -f -p 127.0.0.1:8080 -h /www")
		fwd := plugin(ctx, ns, "port-forward", "web", ":8080")
		stdout, err := fwd.StdoutPipe()
		Expect(err).NotTo(HaveOccurred())
		Expect(fwd.Start()).To(Succeed())
		DeferCleanup(func() { _ = fwd.Process.Kill(); _ = fwd.Wait() })
		forwarding := regexp.MustCompile(`Forwarding from 127\.0\.0\.1:(\d+) -> 8080`)
		local := make(chan string, 1)
		go func() {
			scanner := bufio.NewScanner(stdout)
			for scanner.Scan() {
				if m := forwarding.FindStringSubmatch(scanner.Text()); m != nil {
					local <- m[1]
				}
			}
		}()
		var port string
		Eventually(local).Should(Receive(&port))
		Eventually(func() (string, error) {
			resp, err := http.Get("http://127.0.0.1:" + port + "/")
			if err != nil {
				return "", err
			}
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			return string(body), err
		}).Should(Equal("forwarded-page\n"), "httpd listens on the pod's localhost only, which port-forward reaches")
	})
})

// onAPINodeCrashing runs a pod on the API's node whose container says so and exits 1,
// restarted each time.
func onAPINodeCrashing(ns, name string) *corev1alpha1.Pod {
	p := newPod(ns, name, corev1.RestartPolicyAlways, "sh", "-c", "echo about to crash; exit 1")
	p.Spec.NodeName = apiNode
	p.Spec.TerminationGracePeriodSeconds = ptr.To[int64](1)
	Expect(k8s.Create(ctx, p)).To(Succeed())
	return p
}
