package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	appsv1alpha1 "github.com/kybern/kybern/api/apps/v1alpha1"
	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
	"github.com/kybern/kybern/node-agent/podworker"
	"github.com/kybern/kybern/test/testenv"
)

// newPod is a busybox pod bound to e2e-a, whatever other agents the suite runs by then
// (Ginkgo shuffles the top-level containers).
func newPod(ns, name string, policy corev1.RestartPolicy, command ...string) *corev1alpha1.Pod {
	p := &corev1alpha1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
	p.Spec.NodeName = "e2e-a"
	p.Spec.RestartPolicy = policy
	p.Spec.Containers = []corev1.Container{{Name: "main", Image: "busybox", Command: command}}
	return p
}

// httpGet defines the shell function get HOST PORT, which prints the body of GET / on
// HOST:PORT. It uses busybox's nc: the static busybox of the test image crashes in wget
// once the pod has an /etc/resolv.conf.
const httpGet = `get() { printf 'GET / HTTP/1.0\r\n\r\n' | nc -w 2 "$1" "$2" | tr -d '\r' | sed '1,/^$/d'; }; `

func current(p *corev1alpha1.Pod) func() (*corev1alpha1.Pod, error) {
	return func() (*corev1alpha1.Pod, error) {
		got := &corev1alpha1.Pod{}
		err := k8s.Get(ctx, client.ObjectKeyFromObject(p), got)
		return got, err
	}
}

func logOf(p *corev1alpha1.Pod, container string, attempt int) func() (string, error) {
	return func() (string, error) {
		got, err := current(p)()
		if err != nil {
			return "", err
		}
		data, err := os.ReadFile(podworker.LogPath(filepath.Join(work, "logs"), got, container, int32(attempt)))
		return string(data), err
	}
}

var _ = Describe("Pods on real containers", Ordered, func() {
	var ns string
	BeforeAll(func() { startAgent("e2e-a") })
	BeforeEach(func() {
		var err error
		ns, err = env.NewNamespace(ctx, "e2e")
		Expect(err).NotTo(HaveOccurred())
	})

	It("runs a pod that echoes and exits: Succeeded, its output in the kubelet's log format", func() {
		p := newPod(ns, "echo", corev1.RestartPolicyNever, "sh", "-c", "echo hello from $(hostname)")
		Expect(k8s.Create(ctx, p)).To(Succeed())
		Eventually(current(p)).Should(And(HaveField("Status.Phase", corev1.PodSucceeded),
			HaveField("Status.ContainerStatuses", ConsistOf(HaveField("State.Terminated.Reason", "Completed")))))
		Eventually(logOf(p, "main", 0)).Should(MatchRegexp(`^\S+Z stdout F hello from echo\n$`))
	})

	It("restarts a crashing container with a growing back-off", func() {
		p := newPod(ns, "crash", corev1.RestartPolicyAlways, "sh", "-c", "echo try; exit 3")
		Expect(k8s.Create(ctx, p)).To(Succeed())
		Eventually(current(p)).Should(HaveField("Status.ContainerStatuses", ConsistOf(And(
			HaveField("RestartCount", int32(1)),
			HaveField("State.Waiting.Reason", podworker.ReasonCrashLoopBackOff),
			HaveField("State.Waiting.Message", ContainSubstring("back-off 10s")),
			HaveField("LastTerminationState.Terminated.ExitCode", int32(3))))))
		Eventually(current(p), 30*time.Second).Should(HaveField("Status.ContainerStatuses", ConsistOf(And(
			HaveField("RestartCount", int32(2)), HaveField("State.Waiting.Message", ContainSubstring("back-off 20s"))))))
		Eventually(logOf(p, "main", 1)).Should(ContainSubstring("stdout F try"))
		By("keeping one dead attempt before the current one, as the kubelet's container garbage collection: attempt 0 went with its log")
		Eventually(func() bool {
			_, err := os.Stat(podworker.LogPath(filepath.Join(work, "logs"), p, "main", 0))
			return os.IsNotExist(err)
		}).Should(BeTrue(), "attempt 0's log is still there")
		Expect(logOf(p, "main", 2)()).To(ContainSubstring("stdout F try"))
	})

	It("runs and restarts a container whose name has the longest length upstream allows", func() {
		name := strings.Repeat("c", 63)
		p := newPod(ns, "long-name", corev1.RestartPolicyAlways, "sh", "-c", "echo try; exit 3")
		p.Spec.Containers[0].Name = name
		Expect(k8s.Create(ctx, p)).To(Succeed())
		Eventually(logOf(p, name, 1), 30*time.Second).Should(ContainSubstring("stdout F try"))
	})

	It("stops a deleted pod with SIGTERM within its grace period, then removes it", func() {
		p := newPod(ns, "graceful", corev1.RestartPolicyAlways, "sh", "-c", `trap 'echo got TERM; sleep 2; exit 0' TERM; echo up; while true; do sleep 0.2; done`)
		p.Spec.TerminationGracePeriodSeconds = ptr.To[int64](60)
		Expect(k8s.Create(ctx, p)).To(Succeed())
		Eventually(logOf(p, "main", 0)).Should(ContainSubstring("stdout F up"))
		got, err := current(p)()
		Expect(err).NotTo(HaveOccurred())
		deleted := time.Now()
		Expect(k8s.Delete(ctx, got)).To(Succeed())
		logFile := podworker.LogPath(filepath.Join(work, "logs"), got, "main", 0)
		Eventually(func() (string, error) {
			data, err := os.ReadFile(logFile)
			return string(data), err
		}, 10*time.Second, 50*time.Millisecond).Should(ContainSubstring("stdout F got TERM"))
		Eventually(func() bool {
			_, err := current(p)()
			return apierrors.IsNotFound(err)
		}).Should(BeTrue())
		Expect(time.Since(deleted)).To(BeNumerically("<", 20*time.Second), "the container handles SIGTERM; it must not wait for SIGKILL after 60s")
		Expect(filepath.Dir(filepath.Dir(logFile))).NotTo(BeADirectory(), "a deleted pod's logs go with it")
	})

	It("runs init containers to completion, in order, before the main container", func() {
		p := newPod(ns, "init", corev1.RestartPolicyAlways, "sleep", "3600")
		p.Spec.InitContainers = []corev1.Container{
			{Name: "first", Image: "busybox", Command: []string{"sh", "-c", "sleep 1; echo first"}},
			{Name: "second", Image: "busybox", Command: []string{"echo", "second"}},
		}
		Expect(k8s.Create(ctx, p)).To(Succeed())
		Eventually(current(p)).Should(HaveField("Status.Phase", corev1.PodRunning))
		got, err := current(p)()
		Expect(err).NotTo(HaveOccurred())
		first, second := got.Status.InitContainerStatuses[0].State.Terminated, got.Status.InitContainerStatuses[1].State.Terminated
		main := got.Status.ContainerStatuses[0].State.Running
		Expect(first).NotTo(BeNil())
		Expect(second).NotTo(BeNil())
		Expect(main).NotTo(BeNil())
		Expect(second.StartedAt.Time).NotTo(BeTemporally("<", first.FinishedAt.Time))
		Expect(main.StartedAt.Time).NotTo(BeTemporally("<", second.FinishedAt.Time))
		Expect(got.Status.InitContainerStatuses).To(HaveEach(HaveField("Ready", true)), "an init container that exited 0 is ready, as upstream reports it")
	})

	It("keeps containers running across an agent restart, adopting them", func() {
		p := newPod(ns, "survivor", corev1.RestartPolicyAlways, "sleep", "3600")
		Expect(k8s.Create(ctx, p)).To(Succeed())
		Eventually(current(p)).Should(HaveField("Status.Phase", corev1.PodRunning))
		before, err := current(p)()
		Expect(err).NotTo(HaveOccurred())

		stopAgent("e2e-a")
		startAgent("e2e-a")
		Consistently(current(p), 5*time.Second).Should(And(HaveField("Status.Phase", corev1.PodRunning),
			HaveField("Status.ContainerStatuses", ConsistOf(And(HaveField("RestartCount", int32(0)),
				HaveField("ContainerID", before.Status.ContainerStatuses[0].ContainerID),
				HaveField("State.Running.StartedAt", before.Status.ContainerStatuses[0].State.Running.StartedAt))))))
	})

	It("reports an image that cannot be pulled, and keeps serving other pods", func() {
		p := newPod(ns, "nopull", corev1.RestartPolicyAlways)
		p.Spec.Containers[0].Image = "localhost:1/nothing:1.0"
		never := newPod(ns, "never", corev1.RestartPolicyAlways)
		never.Spec.Containers[0].Image = "example.invalid/absent:1.0"
		never.Spec.Containers[0].ImagePullPolicy = corev1.PullNever
		Expect(k8s.Create(ctx, p)).To(Succeed())
		Expect(k8s.Create(ctx, never)).To(Succeed())
		Eventually(current(p)).Should(HaveField("Status.ContainerStatuses", ConsistOf(HaveField("State.Waiting.Reason",
			BeElementOf(podworker.ReasonErrImagePull, podworker.ReasonImagePullBackOff)))))
		Expect(current(p)()).To(HaveField("Status.ContainerStatuses", ConsistOf(HaveField("State.Waiting.Message", ContainSubstring("localhost:1")))))
		Eventually(current(never)).Should(HaveField("Status.ContainerStatuses", ConsistOf(HaveField("State.Waiting.Reason", podworker.ReasonErrImageNeverPull))))

		ok := newPod(ns, "fine", corev1.RestartPolicyNever, "true")
		Expect(k8s.Create(ctx, ok)).To(Succeed())
		Eventually(current(ok)).Should(HaveField("Status.Phase", corev1.PodSucceeded))
	})

	It("reports a container it cannot configure, naming the variable, and runs the valid env", func() {
		p := newPod(ns, "badenv", corev1.RestartPolicyNever, "sh", "-c", `echo "$POD on $NODE"`)
		p.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "BROKEN", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "spec.priority"}}}}
		Expect(apierrors.IsInvalid(k8s.Create(ctx, p))).To(BeTrue(), "admission refuses a field upstream cannot select")
		withoutAdmission(func() { Expect(k8s.Create(ctx, p)).To(Succeed()) })
		Eventually(current(p)).Should(HaveField("Status.ContainerStatuses", ConsistOf(And(
			HaveField("State.Waiting.Reason", "CreateContainerConfigError"),
			HaveField("State.Waiting.Message", ContainSubstring("env BROKEN"))))))

		good := newPod(ns, "env", corev1.RestartPolicyNever, "sh", "-c", `echo "$POD on $NODE"`)
		good.Spec.Containers[0].Env = []corev1.EnvVar{
			{Name: "POD", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}},
			{Name: "NODE", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "spec.nodeName"}}},
		}
		Expect(k8s.Create(ctx, good)).To(Succeed())
		Eventually(current(good)).Should(HaveField("Status.Phase", corev1.PodSucceeded))
		Eventually(logOf(good, "main", 0)).Should(ContainSubstring("stdout F env on e2e-a"))
	})

	It("takes env from ConfigMaps, Secrets and its own limits, and waits for a ConfigMap that is not there yet", func() {
		Expect(k8s.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "settings"},
			Data: map[string]string{"MODE": "fast", "LEVEL": "3"}})).To(Succeed())
		Expect(k8s.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "creds"},
			Data: map[string][]byte{"password": []byte("s3cret")}})).To(Succeed())
		p := newPod(ns, "configured", corev1.RestartPolicyNever, "sh", "-c", `echo "mode=$MODE pass=$PASS level=$APP_LEVEL mem=$MEM_MI"`)
		p.Spec.Containers[0].Resources.Limits = corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("64Mi")}
		p.Spec.Containers[0].EnvFrom = []corev1.EnvFromSource{{Prefix: "APP_", ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "settings"}}}}
		p.Spec.Containers[0].Env = []corev1.EnvVar{
			{Name: "MODE", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "settings"}, Key: "MODE"}}},
			{Name: "PASS", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "creds"}, Key: "password"}}},
			{Name: "MEM_MI", ValueFrom: &corev1.EnvVarSource{ResourceFieldRef: &corev1.ResourceFieldSelector{Resource: "limits.memory", Divisor: resource.MustParse("1Mi")}}},
		}
		Expect(k8s.Create(ctx, p)).To(Succeed())
		Eventually(current(p)).Should(HaveField("Status.Phase", corev1.PodSucceeded))
		Eventually(logOf(p, "main", 0)).Should(ContainSubstring("stdout F mode=fast pass=s3cret level=3 mem=64"))

		late := newPod(ns, "late", corev1.RestartPolicyNever, "sh", "-c", `echo "color=$COLOR"`)
		late.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "COLOR", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{
			LocalObjectReference: corev1.LocalObjectReference{Name: "late"}, Key: "color"}}}}
		Expect(k8s.Create(ctx, late)).To(Succeed())
		Eventually(current(late)).Should(HaveField("Status.ContainerStatuses", ConsistOf(And(
			HaveField("State.Waiting.Reason", "CreateContainerConfigError"),
			HaveField("State.Waiting.Message", `configmap "late" not found`)))))
		Expect(k8s.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "late"}, Data: map[string]string{"color": "blue"}})).To(Succeed())
		Eventually(current(late), 30*time.Second).Should(HaveField("Status.Phase", corev1.PodSucceeded))
		Eventually(logOf(late, "main", 0)).Should(ContainSubstring("stdout F color=blue"))
	})

	It("reports a pod that names no command for an image without one", func() {
		p := newPod(ns, "nocmd", corev1.RestartPolicyAlways)
		p.Spec.Containers[0].Image = testenv.NoCmdImage
		Expect(k8s.Create(ctx, p)).To(Succeed())
		Eventually(current(p)).Should(HaveField("Status.ContainerStatuses", ConsistOf(And(
			HaveField("State.Waiting.Reason", podworker.ReasonCreateContainerErr),
			HaveField("State.Waiting.Message", ContainSubstring("no command given and image "+testenv.NoCmdImage+" has no entrypoint or cmd"))))))
	})

	It("runs two agents on one machine as two nodes", func() {
		startAgent("e2e-b")
		d := &appsv1alpha1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "pair"}}
		d.Spec.Replicas = ptr.To[int32](2)
		d.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"app": "pair"}}
		d.Spec.Template.Labels = map[string]string{"app": "pair"}
		d.Spec.Template.Spec.Affinity = &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{
			{TopologyKey: corev1.LabelHostname, LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "pair"}}}}}}
		d.Spec.Template.Spec.Containers = []corev1.Container{{Name: "web", Image: "busybox", Command: []string{"httpd", "-f", "-p", "8080"}}}
		d.Spec.Template.Spec.TerminationGracePeriodSeconds = ptr.To[int64](1)
		Expect(k8s.Create(ctx, d)).To(Succeed())
		// Left behind, its pods would follow every node later specs add and remove.
		DeferCleanup(func() {
			Expect(k8s.Delete(ctx, d)).To(Succeed())
			deletePodsIn(ns)
		})
		Eventually(func(g Gomega) {
			var pods corev1alpha1.PodList
			g.Expect(k8s.List(ctx, &pods, client.InNamespace(ns))).To(Succeed())
			nodes := map[string]corev1.PodPhase{}
			for _, p := range pods.Items {
				nodes[p.Spec.NodeName] = p.Status.Phase
			}
			g.Expect(nodes).To(Equal(map[string]corev1.PodPhase{"e2e-a": corev1.PodRunning, "e2e-b": corev1.PodRunning}))
		}).Should(Succeed())
	})
})
