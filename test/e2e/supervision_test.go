package e2e

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
)

// supervisedNode runs the pods of the supervision specs, whose agent and containerd
// they kill.
const supervisedNode = "e2e-sup"

// sleeper is a long-running busybox pod on supervisedNode.
func sleeper(ns, name string) *corev1alpha1.Pod {
	p := &corev1alpha1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
	p.Spec.NodeName = supervisedNode
	p.Spec.TerminationGracePeriodSeconds = ptr.To[int64](1)
	p.Spec.Containers = []corev1.Container{{Name: "main", Image: "busybox", Command: []string{"sleep", "3600"}}}
	return p
}

// sleeperStates describes every pod of ns by name as "<phase> ready=<Ready> <containerID>
// restarts=<count>", the status that must not change while containerd or the agent is away.
func sleeperStates(ns string) (map[string]string, error) {
	var pods corev1alpha1.PodList
	if err := k8s.List(ctx, &pods, client.InNamespace(ns)); err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, p := range pods.Items {
		ready := corev1.ConditionUnknown
		for _, c := range p.Status.Conditions {
			if c.Type == corev1.PodReady {
				ready = c.Status
			}
		}
		var containers []string
		for _, cs := range p.Status.ContainerStatuses {
			containers = append(containers, fmt.Sprintf("%s restarts=%d", cs.ContainerID, cs.RestartCount))
		}
		out[p.Name] = fmt.Sprintf("%s ready=%s %s", p.Status.Phase, ready, strings.Join(containers, ","))
	}
	return out, nil
}

// runSleepers starts n sleepers in ns and returns their states once all run and are Ready,
// with the pids of their containers' processes.
func runSleepers(ns string, n int) (map[string]string, map[string]int) {
	for i := range n {
		Expect(k8s.Create(ctx, sleeper(ns, fmt.Sprintf("sleeper-%d", i)))).To(Succeed())
	}
	var states map[string]string
	EventuallyWithOffset(1, func(g Gomega) {
		var err error
		states, err = sleeperStates(ns)
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(states).To(HaveLen(n))
		for _, s := range states {
			g.Expect(s).To(MatchRegexp(`^Running ready=True containerd://\S+ restarts=0$`))
		}
	}).Should(Succeed())
	all, err := containerPids(supervisedNode)
	ExpectWithOffset(1, err).NotTo(HaveOccurred())
	pids := map[string]int{}
	for name, s := range states {
		id := strings.TrimPrefix(strings.Fields(s)[2], "containerd://")
		ExpectWithOffset(1, all).To(HaveKey(id), "the process of %s's container", name)
		pids[id] = all[id]
	}
	return states, pids
}

// expectRunning checks that every process of pids still runs, and that the shims still
// record it as their container's.
func expectRunning(pids map[string]int) {
	all, err := containerPids(supervisedNode)
	ExpectWithOffset(1, err).NotTo(HaveOccurred())
	for id, pid := range pids {
		ExpectWithOffset(1, alive(pid)).To(BeTrue(), "the process %d of container %s", pid, id)
		ExpectWithOffset(1, all).To(HaveKeyWithValue(id, pid), "the process of container %s", id)
	}
}

var _ = Describe("A supervised node", Ordered, func() {
	var ns string
	BeforeAll(func() {
		startAgent(supervisedNode)
		// The node goes with these specs: later ones count the nodes their pods land on.
		DeferCleanup(func() {
			if _, running := agents[supervisedNode]; !running {
				startAgent(supervisedNode)
			}
			retireNode(supervisedNode)
		})
	})
	BeforeEach(func() {
		var err error
		ns, err = env.NewNamespace(ctx, "e2e-sup")
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(func() { deletePodsIn(ns) })
	})

	It("restarts its killed containerd, keeps the containers running across it, and starts pods again after", func() {
		before, pids := runSleepers(ns, 10)
		killed, err := containerdPid(supervisedNode)
		Expect(err).NotTo(HaveOccurred())

		By("killing the embedded containerd")
		readiness := watchReady(supervisedNode)
		// Node conditions carry whole seconds.
		killedAt := time.Now().Truncate(time.Second)
		kill := time.Now()
		Expect(syscall.Kill(killed, syscall.SIGKILL)).To(Succeed())
		Eventually(func() bool { return alive(killed) }).Should(BeFalse())
		expectRunning(pids)

		By("waiting for the agent to restart containerd")
		Eventually(func(g Gomega) {
			pid, err := containerdPid(supervisedNode)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(pid).NotTo(Equal(killed))
			g.Expect(alive(pid)).To(BeTrue())
		}, 30*time.Second).Should(Succeed())
		expectRunning(pids)

		By("seeing the node Ready again, after a transition since the kill: it was NotReady meanwhile")
		Eventually(func(g Gomega) {
			node := &corev1alpha1.Node{}
			g.Expect(k8s.Get(ctx, client.ObjectKey{Name: supervisedNode}, node)).To(Succeed())
			g.Expect(node.Status.Conditions).To(ContainElement(And(
				HaveField("Type", corev1.NodeReady), HaveField("Status", corev1.ConditionTrue),
				HaveField("LastTransitionTime.Time", BeTemporally(">=", killedAt)))))
		}, 30*time.Second).Should(Succeed())
		Eventually(readiness.seen).Should(Equal([]corev1.ConditionStatus{corev1.ConditionFalse, corev1.ConditionTrue}),
			"the Node's Ready as watched from the kill on")
		readiness.stop()
		at := readiness.times()
		notReady, ready := at[0].Sub(kill), at[1].Sub(kill)
		AddReportEntry("containerd killed", fmt.Sprintf("node NotReady %s after the kill, Ready again %s after it (watched at the apiserver)",
			notReady.Round(10*time.Millisecond), ready.Round(10*time.Millisecond)))

		By("starting a pod on the node after")
		after := sleeper(ns, "after")
		Expect(k8s.Create(ctx, after)).To(Succeed())
		Eventually(current(after)).Should(HaveField("Status.Phase", corev1.PodRunning))
		after, err = current(after)()
		Expect(err).NotTo(HaveOccurred())
		Expect(after.Status.ContainerStatuses).To(ConsistOf(HaveField("RestartCount", int32(0))))

		By("checking that no pod restarted and all are still Ready")
		Consistently(func() (map[string]string, error) {
			states, err := sleeperStates(ns)
			delete(states, "after")
			return states, err
		}, 5*time.Second).Should(Equal(before))
		expectRunning(pids)
	})

	It("keeps the containers running while its agent is killed, and the restarted agent adopts them", func() {
		before, pids := runSleepers(ns, 10)

		By("killing the agent")
		killAgent(supervisedNode)
		expectRunning(pids)

		By("starting the agent again")
		startAgent(supervisedNode)
		Eventually(func() (map[string]string, error) { return sleeperStates(ns) }).Should(Equal(before))
		Consistently(func() (map[string]string, error) { return sleeperStates(ns) }, 5*time.Second).Should(Equal(before))
		expectRunning(pids)
	})
})

// readyWatch records the changes of a Node's Ready condition that a watch delivers.
type readyWatch struct {
	stop func()
	mu   sync.Mutex
	// statuses and at are the successive values of Ready and when each was seen.
	statuses []corev1.ConditionStatus
	at       []time.Time
}

// watchReady watches node's Ready condition from now on. The value it has now is not
// recorded; a change is, at the time the watch delivers it.
func watchReady(node string) *readyWatch {
	wc, err := client.NewWithWatch(env.Config, client.Options{Scheme: k8s.Scheme()})
	ExpectWithOffset(1, err).NotTo(HaveOccurred())
	cur := &corev1alpha1.Node{}
	ExpectWithOffset(1, k8s.Get(ctx, client.ObjectKey{Name: node}, cur)).To(Succeed())
	w, err := wc.Watch(ctx, &corev1alpha1.NodeList{}, client.MatchingFields{"metadata.name": node},
		&client.ListOptions{Raw: &metav1.ListOptions{ResourceVersion: cur.ResourceVersion}})
	ExpectWithOffset(1, err).NotTo(HaveOccurred())
	rw := &readyWatch{stop: w.Stop}
	last := nodeReady(cur)
	go func() {
		for ev := range w.ResultChan() {
			n, ok := ev.Object.(*corev1alpha1.Node)
			if !ok {
				continue
			}
			if st := nodeReady(n); st != last {
				last = st
				rw.mu.Lock()
				rw.statuses, rw.at = append(rw.statuses, st), append(rw.at, time.Now())
				rw.mu.Unlock()
			}
		}
	}()
	return rw
}

func (rw *readyWatch) seen() []corev1.ConditionStatus {
	rw.mu.Lock()
	defer rw.mu.Unlock()
	return slices.Clone(rw.statuses)
}

func (rw *readyWatch) times() []time.Time {
	rw.mu.Lock()
	defer rw.mu.Unlock()
	return slices.Clone(rw.at)
}

func nodeReady(n *corev1alpha1.Node) corev1.ConditionStatus {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status
		}
	}
	return corev1.ConditionUnknown
}
