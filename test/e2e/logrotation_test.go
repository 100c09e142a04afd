package e2e

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"

	"github.com/kybern/kybern/node-agent/containerlogs"
	"github.com/kybern/kybern/node-agent/podworker"
)

// rotationNode's agent rotates container logs at 64 KiB and keeps 3 files of each.
const rotationNode = "e2e-logrot"

var _ = Describe("Container log rotation", Ordered, func() {
	It("keeps at most --container-log-max-files files, compresses rotated ones, and kubectl logs --follow reads on across a rotation without a gap", func() {
		join(bootstrapKubeconfig(), rotationNode, "--container-log-max-size=64Ki", "--container-log-max-files=3")
		ns, err := env.NewPodSecurityNamespace(ctx, "e2e-logrot", "baseline")
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(func() { deletePodsIn(ns) })
		// About 1000 numbered lines of 90 bytes a second: a 64 KiB file fills in under one.
		p := newPod(ns, "counter", corev1.RestartPolicyAlways, "sh", "-c",
			`pad=$(printf '%080d' 0); i=0; while true; do j=0; while [ $j -lt 100 ]; do echo "$i $pad"; i=$((i+1)); j=$((j+1)); done; sleep 0.1; done`)
		p.Spec.NodeName = rotationNode
		p.Spec.TerminationGracePeriodSeconds = ptr.To[int64](1)
		Expect(k8s.Create(ctx, p)).To(Succeed())
		Eventually(current(p)).Should(HaveField("Status.Phase", corev1.PodRunning))
		got, err := current(p)()
		Expect(err).NotTo(HaveOccurred())
		logFile := podworker.LogPath(filepath.Join(work, "logs"), got, "main", 0)

		follow := plugin(ctx, ns, "logs", "-f", "counter")
		follow.Stderr = GinkgoWriter
		stdout, err := follow.StdoutPipe()
		Expect(err).NotTo(HaveOccurred())
		Expect(follow.Start()).To(Succeed())
		DeferCleanup(func() { _ = follow.Process.Kill(); _ = follow.Wait() })
		// last is the last number the follower read, each one after the one before.
		var last atomic.Int64
		last.Store(-1)
		gap := make(chan string, 1)
		go func() {
			defer GinkgoRecover()
			scanner := bufio.NewScanner(stdout)
			first := true
			for scanner.Scan() {
				n, err := strconv.ParseInt(strings.Fields(scanner.Text())[0], 10, 64)
				if err != nil || !first && n != last.Load()+1 {
					gap <- fmt.Sprintf("line %q after number %d", scanner.Text(), last.Load())
					return
				}
				first = false
				last.Store(n)
			}
		}()

		Eventually(func(g Gomega) {
			inUse, _, err := containerlogs.Rotated(logFile)
			g.Expect(err).NotTo(HaveOccurred())
			Expect(len(inUse)+1).To(BeNumerically("<=", 3), "files of the log: %v and the current one", inUse)
			g.Expect(inUse).To(HaveLen(2), "two rotated files beside the current one")
			g.Expect(inUse[0]).To(HaveSuffix(".gz"), "the older rotated file is compressed")
			g.Expect(inUse[1]).NotTo(HaveSuffix(".gz"), "the newest rotated file is not")
			// The first number of the current file came after at least two rotations.
			g.Expect(gap).NotTo(Receive())
			g.Expect(last.Load()).To(BeNumerically(">=", firstNumber(g, logFile)))
		}).Should(Succeed())
		Expect(gap).NotTo(Receive())
	})
})

// firstNumber is the number on the first line of the log file at path.
func firstNumber(g Gomega, path string) int64 {
	f, err := os.Open(path)
	g.Expect(err).NotTo(HaveOccurred())
	defer f.Close()
	scanner := bufio.NewScanner(f)
	g.Expect(scanner.Scan()).To(BeTrue(), "a record in %s", path)
	// "<time> stdout F <number> <padding>"
	fields := strings.Fields(scanner.Text())
	g.Expect(len(fields)).To(BeNumerically(">=", 4))
	n, err := strconv.ParseInt(fields[3], 10, 64)
	g.Expect(err).NotTo(HaveOccurred())
	return n
}
