package podworker

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/tools/record"
	testingclock "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
	"github.com/kybern/kybern/node-agent/runtime"
	"github.com/kybern/kybern/node-agent/runtime/simulated"
	"github.com/kybern/kybern/node-agent/volume"
)

const latency = 100 * time.Millisecond

// statuses records the last status set for the pod.
type statuses struct {
	mu   sync.Mutex
	last corev1.PodStatus
}

func (s *statuses) Set(_ *corev1alpha1.Pod, st corev1.PodStatus) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.last = st
}

// rig is a worker on the simulated runtime with a fake clock and a fake API.
type rig struct {
	t     *testing.T
	ctx   context.Context
	clock *testingclock.FakeClock
	rt    *simulated.Runtime
	// execs counts the probes run so far.
	execs  *atomic.Int32
	api    client.Client
	status *statuses
	events *recorded
	env    *Env
	w      *Worker
}

func newRig(t *testing.T, pod *corev1alpha1.Pod) *rig {
	scheme := k8sruntime.NewScheme()
	if err := corev1alpha1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	if err := corev1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	r := &rig{t: t, ctx: context.Background(), clock: testingclock.NewFakeClock(time.Unix(1_000_000, 0)), status: &statuses{}}
	r.rt = simulated.New(r.clock, latency)
	if err := r.rt.SetPodCIDR(r.ctx, "10.244.0.0/24"); err != nil {
		t.Fatal(err)
	}
	r.api = fake.NewClientBuilder().WithScheme(scheme).WithObjects(pod).WithStatusSubresource(&corev1alpha1.Pod{}).Build()
	counted := &countingRuntime{Runtime: r.rt}
	r.execs = &counted.execs
	r.env = &Env{Runtime: counted, RuntimeName: "simulated", Client: r.api, Status: r.status, Clock: r.clock, HostIP: "10.0.0.1", LogDir: t.TempDir()}
	r.env.Volumes = &volume.Manager{Root: t.TempDir(), Client: r.api, Clock: r.clock}
	r.events = &recorded{fake: record.NewFakeRecorder(1000)}
	r.env.Recorder = r.events.fake
	r.w = New(r.env, pod, logr.Discard())
	return r
}

// countingRuntime counts the exec probes run through it.
type countingRuntime struct {
	*simulated.Runtime
	execs atomic.Int32
}

func (c *countingRuntime) ExecSync(ctx context.Context, id string, cmd []string, timeout time.Duration) (runtime.ExecResult, error) {
	defer c.execs.Add(1)
	return c.Runtime.ExecSync(ctx, id, cmd, timeout)
}

// step advances the clock by d, then syncs the worker as its goroutine would.
func (r *rig) step(d time.Duration) time.Duration {
	r.t.Helper()
	r.clock.Step(d)
	retry, err := r.w.sync(r.ctx)
	if err != nil {
		r.t.Fatalf("sync: %v", err)
	}
	return retry
}

func (r *rig) container(name string) corev1.ContainerStatus {
	r.t.Helper()
	r.status.mu.Lock()
	defer r.status.mu.Unlock()
	for _, cs := range append(r.status.last.InitContainerStatuses, r.status.last.ContainerStatuses...) {
		if cs.Name == name {
			return cs
		}
	}
	r.t.Fatalf("no status for container %s in %+v", name, r.status.last)
	return corev1.ContainerStatus{}
}

func (r *rig) phase() corev1.PodPhase {
	r.status.mu.Lock()
	defer r.status.mu.Unlock()
	return r.status.last.Phase
}

func testPod(policy corev1.RestartPolicy, containers ...corev1.Container) *corev1alpha1.Pod {
	p := &corev1alpha1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "p", UID: "uid-1"}}
	p.Spec.NodeName, p.Spec.RestartPolicy, p.Spec.Containers = "n1", policy, containers
	p.Spec.TerminationGracePeriodSeconds = ptr.To[int64](30)
	return p
}

func ctr(name string, command ...string) corev1.Container {
	return corev1.Container{Name: name, Image: "busybox", Command: command}
}

func TestPendingToRunningWithInitContainersInOrder(t *testing.T) {
	pod := testPod(corev1.RestartPolicyAlways, ctr("app"))
	pod.Spec.InitContainers = []corev1.Container{ctr("first", "sh", "-c", "sleep 1"), ctr("second", "true")}
	r := newRig(t, pod)

	r.step(0)
	if r.w.State() != StatePending || r.container("first").State.Waiting == nil || r.container("second").State.Waiting.Reason != ReasonContainerCreating {
		t.Fatalf("first sync: state %s, first %+v, second %+v", r.w.State(), r.container("first").State, r.container("second").State)
	}
	got := &corev1alpha1.Pod{}
	if err := r.api.Get(r.ctx, client.ObjectKeyFromObject(pod), got); err != nil || len(got.Finalizers) != 1 || got.Finalizers[0] != corev1alpha1.NodeAgentFinalizer {
		t.Fatalf("the pod is not held by the finalizer before its containers start: %v %v", got.Finalizers, err)
	}
	r.step(latency)
	if r.container("first").State.Running == nil || r.container("second").State.Waiting == nil || r.phase() != corev1.PodPending {
		t.Fatalf("the second init container must wait for the first: %+v / %+v", r.container("first").State, r.container("second").State)
	}
	r.step(time.Second)
	r.step(latency)
	r.step(latency)
	if r.container("second").State.Terminated == nil || r.container("app").State.Running == nil {
		t.Fatalf("after both init containers: second %+v, app %+v", r.container("second").State, r.container("app").State)
	}
	if r.w.State() != StateRunning || r.phase() != corev1.PodRunning {
		t.Fatalf("state %s, phase %s; want running, Running", r.w.State(), r.phase())
	}
}

func TestCrashLoopBackOff(t *testing.T) {
	r := newRig(t, testPod(corev1.RestartPolicyAlways, ctr("crash", "sh", "-c", "exit 2")))
	r.step(0)
	r.step(latency) // running, exits at once
	r.step(0)       // first restart is immediate
	if cs := r.container("crash"); cs.RestartCount != 1 || cs.LastTerminationState.Terminated == nil || cs.LastTerminationState.Terminated.ExitCode != 2 {
		t.Fatalf("after the first crash: %+v", cs)
	}
	r.step(latency) // attempt 1 exits
	retry := r.step(0)
	cs := r.container("crash")
	if cs.State.Waiting == nil || cs.State.Waiting.Reason != ReasonCrashLoopBackOff || retry != backoffInitial {
		t.Fatalf("second crash: want CrashLoopBackOff for 10s, got %+v retry %s", cs.State, retry)
	}
	if r.phase() != corev1.PodRunning {
		t.Fatalf("a crash-looping pod with restartPolicy Always is Running, got %s", r.phase())
	}
	r.step(backoffInitial)
	if cs := r.container("crash"); cs.RestartCount != 2 {
		t.Fatalf("after the 10s back-off: restartCount %d, want 2", cs.RestartCount)
	}
}

func TestRestartPolicyDecidesTheEnd(t *testing.T) {
	cases := []struct {
		name   string
		policy corev1.RestartPolicy
		cmd    []string
		phase  corev1.PodPhase
	}{
		{"Never, exit 0: Succeeded", corev1.RestartPolicyNever, []string{"true"}, corev1.PodSucceeded},
		{"Never, exit 3: Failed", corev1.RestartPolicyNever, []string{"sh", "-c", "exit 3"}, corev1.PodFailed},
		{"OnFailure, exit 0: Succeeded", corev1.RestartPolicyOnFailure, []string{"true"}, corev1.PodSucceeded},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, testPod(tc.policy, ctr("job", tc.cmd...)))
			r.step(0)
			r.step(latency)
			r.step(0)
			if r.phase() != tc.phase || r.w.State() != StateTerminated {
				t.Fatalf("phase %s, state %s; want %s, terminated", r.phase(), r.w.State(), tc.phase)
			}
			r.step(time.Hour)
			if n := r.container("job").RestartCount; n != 0 {
				t.Fatalf("a finished pod restarted its container %d times", n)
			}
		})
	}
}

func TestDeletionStopsContainersThenReleasesThePod(t *testing.T) {
	pod := testPod(corev1.RestartPolicyAlways, ctr("web", "sh", "-c", "echo up; sleep 3600"))
	r := newRig(t, pod)
	r.step(0)
	r.step(latency)
	if r.container("web").State.Running == nil {
		t.Fatalf("web is not running: %+v", r.container("web").State)
	}
	logs := PodLogDir(r.env.LogDir, podRef(pod))
	if _, err := os.Stat(filepath.Join(logs, "web", "0.log")); err != nil {
		t.Fatalf("web's log: %v", err)
	}
	held := &corev1alpha1.Pod{}
	if err := r.api.Get(r.ctx, client.ObjectKeyFromObject(pod), held); err != nil {
		t.Fatal(err)
	}
	if err := r.api.Delete(r.ctx, held); err != nil {
		t.Fatal(err)
	}
	if err := r.api.Get(r.ctx, client.ObjectKeyFromObject(pod), held); err != nil || held.DeletionTimestamp == nil {
		t.Fatalf("the finalizer must keep the deleted pod until its containers stop: %v", err)
	}
	r.w.Update(held)
	r.step(0)
	if r.w.State() != StateCleanedUp {
		t.Fatalf("state %s after deletion, want cleaned up", r.w.State())
	}
	if cs, _ := r.rt.Containers(r.ctx); len(cs) != 0 {
		t.Fatalf("%d containers left after the pod was cleaned up", len(cs))
	}
	if err := r.api.Get(r.ctx, client.ObjectKeyFromObject(pod), held); err == nil {
		t.Fatalf("the pod object is still there, finalizers %v", held.Finalizers)
	}
	if r.phase() != corev1.PodFailed {
		t.Fatalf("a running pod stopped by deletion reports %s, want Failed", r.phase())
	}
	if _, err := os.Stat(logs); !os.IsNotExist(err) {
		t.Fatalf("the pod's log directory %s is still there: %v", logs, err)
	}
}

func TestARestartedAgentAdoptsRunningContainers(t *testing.T) {
	pod := testPod(corev1.RestartPolicyAlways, ctr("web", "httpd", "-f"))
	r := newRig(t, pod)
	r.step(0)
	r.step(latency)
	before, _ := r.rt.Containers(r.ctx)

	again := &corev1alpha1.Pod{}
	if err := r.api.Get(r.ctx, client.ObjectKeyFromObject(pod), again); err != nil {
		t.Fatal(err)
	}
	r.w = New(r.env, again, logr.Discard())
	r.step(latency)
	after, _ := r.rt.Containers(r.ctx)
	if len(after) != 1 || after[0].ID != before[0].ID || after[0].State != runtime.StateRunning {
		t.Fatalf("containers before %v, after the new worker %v: want the same one, running", before, after)
	}
	if r.phase() != corev1.PodRunning || r.container("web").RestartCount != 0 {
		t.Fatalf("phase %s restartCount %d", r.phase(), r.container("web").RestartCount)
	}
}

func TestActiveDeadlineStopsThePod(t *testing.T) {
	pod := testPod(corev1.RestartPolicyAlways, ctr("web", "httpd", "-f"))
	pod.Spec.ActiveDeadlineSeconds = ptr.To[int64](30)
	r := newRig(t, pod)
	r.step(0)
	if retry := r.step(latency); retry <= 0 || retry > 30*time.Second {
		t.Fatalf("retry %s: the worker must come back by the deadline", retry)
	}
	if r.phase() != corev1.PodRunning {
		t.Fatalf("phase %s before the deadline", r.phase())
	}
	r.step(30 * time.Second)
	r.status.mu.Lock()
	st := r.status.last
	r.status.mu.Unlock()
	if r.w.State() != StateTerminated || st.Phase != corev1.PodFailed || st.Reason != "DeadlineExceeded" {
		t.Fatalf("after the deadline: state %s, phase %s, reason %q", r.w.State(), st.Phase, st.Reason)
	}
	if r.container("web").State.Terminated == nil {
		t.Fatalf("the container still runs: %+v", r.container("web").State)
	}
}

// panickingRuntime panics on the first container start, as a bug would.
type panickingRuntime struct {
	*simulated.Runtime
	panicked atomic.Bool
}

func (p *panickingRuntime) StartContainer(ctx context.Context, pod runtime.PodRef, spec runtime.ContainerSpec) (string, error) {
	if !p.panicked.Swap(true) {
		panic("a bug in the runtime")
	}
	return p.Runtime.StartContainer(ctx, pod, spec)
}

func TestAPanicInSyncIsAnErrorThatTheWorkerRetries(t *testing.T) {
	r := newRig(t, testPod(corev1.RestartPolicyAlways, ctr("main", "sleep", "3600")))
	r.env.Runtime = &panickingRuntime{Runtime: r.rt}
	_, err := r.w.guardedSync(r.ctx)
	if err == nil || !strings.Contains(err.Error(), "panic while syncing the pod: a bug in the runtime") || !strings.Contains(err.Error(), "StartContainer") {
		t.Fatalf("guardedSync = %v, want the panic as an error with its stack", err)
	}
	r.clock.Step(10 * time.Second)
	if _, err := r.w.guardedSync(r.ctx); err != nil {
		t.Fatalf("retry: %v", err)
	}
	r.step(latency)
	if r.container("main").State.Running == nil {
		t.Fatalf("after the retry: %+v, want the container running", r.container("main").State)
	}
}

// TestARestartRemovesAttemptsBeforeThePrevious: as the kubelet's container garbage
// collection, a restart leaves the running attempt and the one before it, for lastState
// and logs --previous; older attempts go with their logs, rotated ones too.
func TestARestartRemovesAttemptsBeforeThePrevious(t *testing.T) {
	pod := testPod(corev1.RestartPolicyAlways, ctr("crash", "sh", "-c", "exit 2"))
	r := newRig(t, pod)
	first := LogPath(r.env.LogDir, pod, "crash", 0)
	if err := os.MkdirAll(filepath.Dir(first), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{first, first + ".20261203-101010", LogPath(r.env.LogDir, pod, "crash", 1)} {
		if err := os.WriteFile(f, []byte("x\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	r.step(0)
	r.step(latency) // attempt 0 exits
	r.step(0)       // attempt 1
	r.step(latency)
	r.step(0)
	r.step(backoffInitial) // attempt 2
	if cs := r.container("crash"); cs.RestartCount != 2 || cs.LastTerminationState.Terminated == nil {
		t.Fatalf("after two restarts: %+v", cs)
	}
	all, err := r.rt.PodContainers(r.ctx, pod.UID)
	if err != nil {
		t.Fatal(err)
	}
	var attempts []int32
	for _, c := range all {
		attempts = append(attempts, c.Attempt)
	}
	slices.Sort(attempts)
	if !slices.Equal(attempts, []int32{1, 2}) {
		t.Fatalf("containers left: attempts %v, want 1 (previous) and 2 (running)", attempts)
	}
	for _, gone := range []string{first, first + ".20261203-101010"} {
		if _, err := os.Stat(gone); !os.IsNotExist(err) {
			t.Fatalf("log %s of the removed attempt is still there: %v", gone, err)
		}
	}
	if _, err := os.Stat(LogPath(r.env.LogDir, pod, "crash", 1)); err != nil {
		t.Fatalf("the previous attempt's log is gone: %v", err)
	}
}
