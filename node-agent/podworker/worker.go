// Package podworker runs each pod bound to a node: one Worker per pod UID drives the
// pod's containers through the runtime and reports its status.
package podworker

import (
	"cmp"
	"context"
	"fmt"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
	"github.com/kybern/kybern/node-agent/events"
	"github.com/kybern/kybern/node-agent/prober"
	"github.com/kybern/kybern/node-agent/resolvconf"
	"github.com/kybern/kybern/node-agent/runtime"
	"github.com/kybern/kybern/node-agent/volume"
)

// State is where a pod is in its life on this node.
type State string

const (
	// StatePending: bound here; sandbox, images and init containers being prepared.
	StatePending State = "pending"
	// StateRunning: the main containers were started; they restart per restartPolicy.
	StateRunning State = "running"
	// StateTerminating: the pod is being deleted; its containers are being stopped.
	StateTerminating State = "terminating"
	// StateTerminated: no container runs or will run again. A pod that finished on its own
	// (Succeeded or Failed) stays here, its containers kept, until it is deleted.
	StateTerminated State = "terminated"
	// StateCleanedUp: containers and sandbox removed, the pod object released; the worker
	// has ended.
	StateCleanedUp State = "cleaned up"
)

// StatusSink takes the status a worker computed, and writes it when it changed.
type StatusSink interface {
	Set(pod *corev1alpha1.Pod, status corev1.PodStatus)
}

// Env is what workers share: one node's runtime, API client and identity.
type Env struct {
	Runtime     runtime.Runtime
	RuntimeName string
	Client      client.Client
	Status      StatusSink
	Clock       clock.WithTicker
	HostIP      string
	// Allocatable is the node's: what a resourceFieldRef to a limit the container does not
	// set reads.
	Allocatable corev1.ResourceList
	// LogDir holds the container logs: LogDir/<namespace>_<pod>_<uid>/<container>/<attempt>.log.
	LogDir  string
	Volumes VolumeManager
	// PodDir holds each pod's files: PodDir/<pod uid>/.
	PodDir string
	// DNS, when set, makes each container's /etc/resolv.conf.
	DNS *resolvconf.Cluster
	// ServiceEnv is the environment every container gets for the kubernetes Service.
	ServiceEnv []corev1.EnvVar
	// Recorder, when set, takes the events about the pods, with the kubelet's reasons.
	Recorder record.EventRecorder
}

// Worker runs one pod through its states:
//
//	pending ──► running ──► terminating ──► terminated ──► cleaned up
//	   │                        ▲               ▲
//	   └────────────────────────┘               │
//	   (deleted before starting)                │
//	pending/running ────────────────────────────┘ (every container exited for good)
//
// Each transition happens in sync, which the worker's goroutine runs when the pod object
// changes, when the runtime reports a change (Poke), or when a back-off it waits on ends.
// Every state but cleaned up reports the pod's status.
type Worker struct {
	env *Env
	uid types.UID
	log logr.Logger

	mu   sync.Mutex
	pod  *corev1alpha1.Pod
	gone bool
	wake chan struct{}
	// evicted is the eviction message once Evict was called, evictGrace the most its
	// containers get to stop; under mu.
	evicted    string
	evictGrace time.Duration

	// Owned by the worker's goroutine.
	state     State
	backoff   backoff
	waiting   map[string]reason
	sandbox   bool
	startTime time.Time
	probes    *prober.Set
	// killed says why the worker stopped a container instance, by ID.
	killed map[string]string
	// volumes are the host paths of the pod's volumes once set up, refreshed at volumesAt.
	volumes   map[string]string
	volumesAt time.Time
	// pastDeadline is set once the pod ran longer than its activeDeadlineSeconds.
	pastDeadline bool
	// rejected says why the agent refused to run the pod, once it did.
	rejected string
	// initialized is set once every init container has succeeded and every sidecar has
	// started; init containers are not run again after.
	initialized bool
	// ranToEnd is set once this worker saw the pod's containers finish; a later change
	// of their exit (a late OOM kill) is then still reported.
	ranToEnd bool
	// podIPs are the sandbox's addresses.
	podIPs []string
}

// New returns the worker of pod. A pod whose status is already Succeeded or Failed, seen
// again after an agent restart, starts terminated, so that nothing of it runs again.
func New(env *Env, pod *corev1alpha1.Pod, log logr.Logger) *Worker {
	w := &Worker{env: env, uid: pod.UID, log: log.WithValues("pod", client.ObjectKeyFromObject(pod), "podUID", pod.UID),
		pod: pod, wake: make(chan struct{}, 1), state: StatePending, backoff: backoff{}, waiting: map[string]reason{}, killed: map[string]string{}}
	w.probes = prober.NewSet(env.Runtime, env.Clock, podRef(pod), w.Poke, w.unhealthy)
	if pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
		w.state = StateTerminated
	}
	return w
}

// Update hands the worker the pod's newest version.
func (w *Worker) Update(pod *corev1alpha1.Pod) {
	w.mu.Lock()
	w.pod = pod
	w.mu.Unlock()
	w.Poke()
}

// Gone tells the worker its pod object no longer exists.
func (w *Worker) Gone() {
	w.mu.Lock()
	w.gone = true
	w.mu.Unlock()
	w.Poke()
}

// Poke asks for a sync soon; pokes while one is pending merge.
func (w *Worker) Poke() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// Run syncs the pod until it is cleaned up or ctx ends.
func (w *Worker) Run(ctx context.Context) {
	timer := w.env.Clock.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-w.wake:
		case <-timer.C():
		}
		retry, err := w.guardedSync(ctx)
		if err != nil {
			w.log.Error(err, "Syncing pod", "state", w.state)
			retry = min(max(retry, time.Second), 10*time.Second)
		}
		if w.state == StateCleanedUp {
			return
		}
		if !timer.Stop() {
			select {
			case <-timer.C():
			default:
			}
		}
		if retry > 0 {
			timer.Reset(retry)
		}
	}
}

// guardedSync is sync with a panic turned into an error, with its stack, and a FailedSync
// event on the pod: one pod's bug must not end the agent and every other pod's worker.
// The worker retries it as any error.
func (w *Worker) guardedSync(ctx context.Context) (retry time.Duration, err error) {
	defer func() {
		if r := recover(); r != nil {
			retry, err = 0, fmt.Errorf("panic while syncing the pod: %v\n%s", r, debug.Stack())
			w.panicEvent(r)
		}
	}()
	return w.sync(ctx)
}

// State reports the worker's state, for tests and logs.
func (w *Worker) State() State { return w.state }

func (w *Worker) snapshot() (*corev1alpha1.Pod, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.pod, w.gone
}

// sync moves the pod one or more states on and reports its status; retry, when positive,
// is when it wants to run again without being poked.
func (w *Worker) sync(ctx context.Context) (retry time.Duration, err error) {
	pod, gone := w.snapshot()
	deleting := gone || pod.DeletionTimestamp != nil
	if deleting && (w.state == StatePending || w.state == StateRunning) {
		w.log.V(1).Info("Stopping pod", "from", w.state)
		w.state = StateTerminating
	}
	switch w.state {
	case StatePending, StateRunning:
		return w.syncActive(ctx, pod)
	case StateTerminating:
		if err := w.stopAll(ctx, pod, gone); err != nil {
			return 0, err
		}
		w.state = StateTerminated
		if !gone {
			w.report(ctx, pod, true)
		}
		fallthrough
	case StateTerminated:
		if !deleting {
			if w.ranToEnd {
				w.report(ctx, pod, false)
			}
			return 0, nil
		}
		if err := w.cleanUp(ctx, pod, gone); err != nil {
			return 0, err
		}
		w.state = StateCleanedUp
	}
	return 0, nil
}

// syncActive starts what should run: the sandbox, the init containers one at a time and
// then the main containers, restarting exited ones as restartPolicy and back-off allow.
func (w *Worker) syncActive(ctx context.Context, pod *corev1alpha1.Pod) (time.Duration, error) {
	if !controllerutil.ContainsFinalizer(pod, corev1alpha1.NodeAgentFinalizer) {
		if err := w.holdPod(ctx, pod); err != nil {
			return 0, err
		}
	}
	if w.startTime.IsZero() {
		w.startTime = w.env.Clock.Now()
		if pod.Status.StartTime != nil {
			w.startTime = pod.Status.StartTime.Time
		}
	}
	if err := admit(pod); err != nil {
		w.log.Info("Rejecting pod", "reason", err.Error())
		w.rejected, w.state = "Pod was rejected: "+err.Error(), StateTerminating
		w.podEvent(pod, corev1.EventTypeWarning, ReasonRejected, "%s", w.rejected)
		return w.sync(ctx)
	}
	deadline, past := w.deadline(pod)
	if past {
		w.log.Info("Stopping pod past its active deadline", "activeDeadlineSeconds", *pod.Spec.ActiveDeadlineSeconds)
		w.pastDeadline, w.state = true, StateTerminating
		w.podEvent(pod, corev1.EventTypeNormal, events.DeadlineExceeded, "Pod was active on the node longer than the specified deadline")
		return w.sync(ctx)
	}
	if w.evictedMessage() != "" {
		w.state = StateTerminating
		return w.sync(ctx)
	}
	if !w.sandbox {
		ips, err := w.env.Runtime.StartSandbox(ctx, podRef(pod))
		if err != nil {
			// As the kubelet: the pod stays Pending, not ready to start containers, its
			// containers ContainerCreating, and the event says why.
			w.podEvent(pod, corev1.EventTypeWarning, events.FailedCreatePodSandBox, "Failed to create pod sandbox: %v", err)
			w.report(ctx, pod, false)
			return 0, fmt.Errorf("starting the sandbox: %w", err)
		}
		if pod.Spec.HostNetwork {
			// A pod on the host's network has the node's address, as under the kubelet.
			ips = []string{w.env.HostIP}
		}
		w.sandbox, w.podIPs = true, ips
	}
	pod = w.withPodIPs(pod)
	containers, err := w.containers(ctx)
	if err != nil {
		return 0, err
	}
	if err := w.setupVolumes(ctx, pod); err != nil {
		w.reportWith(ctx, pod, containers, false)
		if apierrors.IsForbidden(err) {
			// The node authorizer grants a new pod's Secrets and ConfigMaps to its node
			// within milliseconds of its binding; an agent that asked first asks again soon.
			return time.Second, nil
		}
		return backoffInitial, nil
	}
	var retry time.Duration
	initDone, failed := w.initialized, false
	if !initDone {
		retry, initDone, failed = w.runInit(ctx, pod, containers)
	}
	if failed {
		w.state, w.ranToEnd = StateTerminated, true
	} else if initDone {
		w.state, w.initialized = StateRunning, true
		var finished bool
		retry, finished = w.runMain(ctx, pod, containers)
		if wait := w.runSidecars(ctx, pod, containers, finished); wait > 0 && (retry == 0 || wait < retry) {
			retry = wait
		}
		if finished {
			w.state, w.ranToEnd = StateTerminated, true
		}
	}
	if containers, err = w.containers(ctx); err != nil {
		return 0, err
	}
	w.probes.Sync(ctx, probeTargets(pod, containers))
	w.reportWith(ctx, pod, containers, false)
	for _, wait := range []time.Duration{volumeRefreshIf(pod), deadline} {
		if wait > 0 && (retry == 0 || retry > wait) {
			retry = wait
		}
	}
	return retry, nil
}

// deadline is how long the pod may still run under its activeDeadlineSeconds, counted
// from its start as upstream's kubelet does; past says the time is up. Zero without one.
func (w *Worker) deadline(pod *corev1alpha1.Pod) (left time.Duration, past bool) {
	if pod.Spec.ActiveDeadlineSeconds == nil {
		return 0, false
	}
	left = time.Duration(*pod.Spec.ActiveDeadlineSeconds)*time.Second - w.env.Clock.Since(w.startTime)
	return left, left <= 0
}

// volumeRefreshIf is when the pod's projected volumes are next due a refresh; zero if it
// has none.
func volumeRefreshIf(pod *corev1alpha1.Pod) time.Duration {
	if volume.Refreshes(pod) {
		return volumeRefresh
	}
	return 0
}

// runInit runs the first init container that has not succeeded; done once all have.
// failed: one failed and restartPolicy Never forbids a retry, so the pod has failed.
func (w *Worker) runInit(ctx context.Context, pod *corev1alpha1.Pod, containers map[string][]runtime.Container) (retry time.Duration, done, failed bool) {
	for i := range pod.Spec.InitContainers {
		c := &pod.Spec.InitContainers[i]
		instances := containers[c.Name]
		if len(instances) == 0 {
			return w.start(ctx, pod, c, 0), false, false
		}
		latest := instances[0]
		if isSidecar(c) {
			// A sidecar lets the next init container start once it runs and has started.
			switch {
			case latest.State == runtime.StateExited:
				return w.restart(ctx, pod, c, latest), false, false
			case latest.State == runtime.StateRunning && w.probes.Started(latest.ID, c):
				continue
			}
			return 0, false, false
		}
		switch {
		case latest.State != runtime.StateExited:
			return 0, false, false
		case latest.ExitCode == 0:
			continue
		case pod.Spec.RestartPolicy == corev1.RestartPolicyNever:
			return 0, false, true
		default:
			return w.restart(ctx, pod, c, latest), false, false
		}
	}
	return 0, true, false
}

// runMain starts every main container not yet started and restarts exited ones as the
// restart policy says; finished once every container has exited for good.
func (w *Worker) runMain(ctx context.Context, pod *corev1alpha1.Pod, containers map[string][]runtime.Container) (retry time.Duration, finished bool) {
	finished = true
	soonest := func(d time.Duration) {
		if d > 0 && (retry == 0 || d < retry) {
			retry = d
		}
	}
	for i := range pod.Spec.Containers {
		c := &pod.Spec.Containers[i]
		instances := containers[c.Name]
		if len(instances) == 0 {
			soonest(w.start(ctx, pod, c, 0))
			finished = false
			continue
		}
		latest := instances[0]
		if why, failed := w.probes.Failed(latest.ID); failed && latest.State == runtime.StateRunning {
			soonest(w.kill(ctx, pod, c, latest, why))
			finished = false
			continue
		}
		if latest.State != runtime.StateExited {
			finished = false
			continue
		}
		if restarts(pod.Spec.RestartPolicy, latest.ExitCode) {
			soonest(w.restart(ctx, pod, c, latest))
			finished = false
		}
	}
	return retry, finished
}

func restarts(policy corev1.RestartPolicy, exitCode int32) bool {
	switch policy {
	case corev1.RestartPolicyNever:
		return false
	case corev1.RestartPolicyOnFailure:
		return exitCode != 0
	default:
		return true
	}
}

// LogPath is where attempt of a pod's container logs, in the kubelet's layout.
func LogPath(dir string, pod *corev1alpha1.Pod, container string, attempt int32) string {
	return filepath.Join(PodLogDir(dir, podRef(pod)), container, fmt.Sprintf("%d.log", attempt))
}

// PodLogDir is the directory that holds every log of one pod; it goes with the pod's
// containers, as the kubelet removes a deleted pod's logs.
func PodLogDir(dir string, pod runtime.PodRef) string {
	return filepath.Join(dir, fmt.Sprintf("%s_%s_%s", pod.Namespace, pod.Name, pod.UID))
}

// containers returns the pod's containers by name, newest attempt first.
func (w *Worker) containers(ctx context.Context) (map[string][]runtime.Container, error) {
	all, err := w.env.Runtime.PodContainers(ctx, w.uid)
	if err != nil {
		return nil, fmt.Errorf("listing containers: %w", err)
	}
	return ByName(all), nil
}

// ByName groups one pod's containers by name, each name's newest attempt first.
func ByName(all []runtime.Container) map[string][]runtime.Container {
	out := map[string][]runtime.Container{}
	for _, c := range all {
		out[c.Name] = append(out[c.Name], c)
	}
	for _, instances := range out {
		slices.SortFunc(instances, func(a, b runtime.Container) int { return int(b.Attempt - a.Attempt) })
	}
	return out
}

func (w *Worker) report(ctx context.Context, pod *corev1alpha1.Pod, terminated bool) {
	containers, err := w.containers(ctx)
	if err != nil {
		w.log.Error(err, "Reading containers for the pod's status")
		return
	}
	w.reportWith(ctx, pod, containers, terminated)
}

func (w *Worker) reportWith(_ context.Context, pod *corev1alpha1.Pod, containers map[string][]runtime.Container, terminated bool) {
	w.env.Status.Set(pod, w.withEviction(podStatus(pod, observed{sandboxReady: w.sandbox, containers: containers, waiting: w.waiting,
		terminated: terminated, runtimeName: w.env.RuntimeName, hostIP: w.env.HostIP, startTime: w.startTime, now: w.env.Clock.Now(),
		probes: w.probes, killed: w.killed, pastDeadline: w.pastDeadline, rejected: w.rejected, podIPs: w.podIPs})))
}

func podRef(pod *corev1alpha1.Pod) runtime.PodRef {
	ref := runtime.PodRef{UID: pod.UID, Namespace: pod.Namespace, Name: pod.Name, HostNetwork: pod.Spec.HostNetwork}
	if pod.Spec.HostNetwork {
		return ref
	}
	for _, list := range [][]corev1.Container{pod.Spec.InitContainers, pod.Spec.Containers} {
		for _, c := range list {
			for _, p := range c.Ports {
				if p.HostPort != 0 {
					ref.HostPorts = append(ref.HostPorts, runtime.HostPort{HostPort: p.HostPort, ContainerPort: p.ContainerPort,
						Protocol: strings.ToLower(string(cmp.Or(p.Protocol, corev1.ProtocolTCP))), HostIP: p.HostIP})
				}
			}
		}
	}
	return ref
}

// withPodIPs is pod as its containers' env and downward API see it: with the sandbox's
// addresses, which its status may not show yet.
func (w *Worker) withPodIPs(pod *corev1alpha1.Pod) *corev1alpha1.Pod {
	if len(w.podIPs) == 0 || pod.Status.PodIP == w.podIPs[0] {
		return pod
	}
	seen := *pod
	seen.Status.PodIP, seen.Status.PodIPs = w.podIPs[0], nil
	for _, ip := range w.podIPs {
		seen.Status.PodIPs = append(seen.Status.PodIPs, corev1.PodIP{IP: ip})
	}
	return &seen
}
