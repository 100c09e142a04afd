// Package agent is one node's agent: it registers the Node, keeps its Lease, watches the
// pods bound to it (and only those) and runs each through a pod worker.
package agent

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/fields"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	toolscache "k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/clock"
	ctrlcache "sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
	"github.com/kybern/kybern/node-agent/events"
	"github.com/kybern/kybern/node-agent/eviction"
	"github.com/kybern/kybern/node-agent/podworker"
	"github.com/kybern/kybern/node-agent/resolvconf"
	"github.com/kybern/kybern/node-agent/runtime"
	"github.com/kybern/kybern/node-agent/status"
	"github.com/kybern/kybern/node-agent/volume"
)

// What a node agent may do, as the ClusterRole and Role config/rbac/node-agent/role.yaml
// generated from these markers. Which Node, Lease and pods it may change is narrowed to its
// own by the ValidatingAdmissionPolicy in config/cluster/node-restriction.yaml. The
// Secrets, ConfigMaps and claims its pods use it may read (and the claims select and
// report Bound) by name only, through the per-node Roles the manager's node authorizer
// keeps (controllers/nodeauthorizer), as upstream's Node authorizer allows.
// +kubebuilder:rbac:groups=core.kybern.io,resources=nodes,verbs=get;create;patch
// +kubebuilder:rbac:groups=core.kybern.io,resources=nodes/status,verbs=patch
// +kubebuilder:rbac:groups=core.kybern.io,resources=pods,verbs=get;list;watch;patch
// +kubebuilder:rbac:groups=core.kybern.io,resources=pods/status,verbs=patch
// It records events about its pods, as the kubelet (node-agent/events); the policy lets
// it record only events it is the source of.
// +kubebuilder:rbac:groups="",resources=events,verbs=create;patch
// It renews its client certificate itself (node-agent/identity).
// +kubebuilder:rbac:groups=certificates.k8s.io,resources=certificatesigningrequests,verbs=create;get;list;watch
// +kubebuilder:rbac:groups=coordination.k8s.io,resources=leases,verbs=get;create;update,namespace=kybern-node-lease

// relistPeriod is how often the agent compares the runtime's containers with what it saw
// before and wakes the workers of pods whose containers changed, as the kubelet's PLEG.
const relistPeriod = time.Second

// reclaimEvery is how many relists go by between looks for leftover sandboxes.
const reclaimEvery = 10

// Config is one node's identity and resources.
type Config struct {
	NodeName string
	// Labels are added to the well-known hostname, os and arch labels.
	Labels   map[string]string
	Arch     string
	Capacity corev1.ResourceList
	// Allocatable is what pods may use: capacity less reservations and hard eviction
	// thresholds (eviction.Allocatable); nil reports Capacity.
	Allocatable corev1.ResourceList
	// Eviction is the node's eviction manager, which RunPods runs and whose pressure the
	// node's conditions report; nil for none: simulated nodes measure nothing and report
	// no pressure.
	Eviction *eviction.Manager
	Address  string
	NodeInfo corev1.NodeSystemInfo
	// LogDir holds the pods' container logs.
	LogDir string
	// PodDir holds the pods' volumes: PodDir/<pod uid>/volumes/<volume>.
	PodDir string
	// SharedClaimDir, when set, is where every node mounts one filesystem: it holds the
	// claims of shared-directory StorageClasses (volume.Manager.SharedClaimRoot).
	SharedClaimDir string
	// Tmpfs backs Secret volumes and medium Memory emptyDirs with tmpfs, and pins subPaths
	// with bind mounts (volume.Manager.PinSubPaths); it needs root and a real runtime.
	Tmpfs bool
	// RuntimeName prefixes container IDs in pod status ("containerd", "simulated").
	RuntimeName string
	// APIPort is the port of the agent's API, reported as the Node's kubelet endpoint; 0
	// when it serves none.
	APIPort int32
}

// Shared is what the agents of one process share: the apiserver's address and
// credentials, one HTTP client and REST mapper, the scheme, the clock and the logger.
type Shared struct {
	Rest   *rest.Config
	HTTP   *http.Client
	Mapper meta.RESTMapper
	Scheme *k8sruntime.Scheme
	Clock  clock.WithTicker
	Log    logr.Logger
	// Events, when set, writes the events of every node's pods.
	Events record.EventBroadcaster
}

// Agent runs the pods of one node.
type Agent struct {
	Shared
	cfg     Config
	client  client.Client
	runtime runtime.Runtime
	clock   clock.WithTicker
	log     logr.Logger

	lastStatus time.Time
	// statusChanged wakes the heartbeat loop (StatusChanged); lastRelist is when the relist
	// loop last completed a round (Unix nanoseconds); networkReady is set once the runtime
	// has the node's pod CIDR.
	statusChanged chan struct{}
	lastRelist    atomic.Int64
	networkReady  atomic.Bool

	mu      sync.Mutex
	workers map[types.UID]*podworker.Worker
	synced  bool
}

// New returns the agent of cfg.NodeName, running its containers on rt.
func New(shared Shared, cfg Config, rt runtime.Runtime) (*Agent, error) {
	if cfg.LogDir == "" || cfg.PodDir == "" {
		return nil, fmt.Errorf("node %s: no directory for container logs or pod volumes: set Config.LogDir and Config.PodDir", cfg.NodeName)
	}
	podDir, err := filepath.Abs(cfg.PodDir)
	if err != nil {
		return nil, err
	}
	cfg.PodDir = podDir
	c, err := client.New(shared.Rest, client.Options{Scheme: shared.Scheme, HTTPClient: shared.HTTP, Mapper: shared.Mapper})
	if err != nil {
		return nil, err
	}
	a := &Agent{Shared: shared, cfg: cfg, client: c, runtime: rt, clock: shared.Clock,
		log: shared.Log.WithValues("node", cfg.NodeName), workers: map[types.UID]*podworker.Worker{}, statusChanged: make(chan struct{}, 1)}
	// The relist loop starts with the pods; until it is 3 min late it counts as healthy.
	a.relisted()
	return a, nil
}

// Run registers the node and runs its pods, resolving names through the host's resolver
// only, until ctx ends.
func (a *Agent) Run(ctx context.Context) error {
	if _, err := a.Register(ctx); err != nil {
		if ctx.Err() != nil {
			// Stopped while registering: nothing ran, nothing failed.
			return nil
		}
		return err
	}
	return a.RunPods(ctx, Cluster{})
}

// Register registers the node, keeps its heartbeat until ctx ends, waits for the pod CIDR
// node lifecycle assigns it and gives that CIDR to the runtime. A registration the
// apiserver refuses or cannot take (its admission webhook not serving yet) is retried
// until ctx ends, as the kubelet retries, backing off to 7 s.
func (a *Agent) Register(ctx context.Context) (netip.Prefix, error) {
	retry := wait.Backoff{Duration: 200 * time.Millisecond, Factor: 2, Cap: 7 * time.Second, Steps: math.MaxInt32}
	err := wait.ExponentialBackoffWithContext(ctx, retry, func(ctx context.Context) (bool, error) {
		err := a.register(ctx)
		if err != nil {
			a.log.Error(err, "Registering the node failed; retrying")
		}
		return err == nil, nil
	})
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("registering node %s: %w", a.cfg.NodeName, err)
	}
	go a.heartbeat(ctx)
	cidr, err := a.waitForPodCIDR(ctx)
	if err != nil {
		return netip.Prefix{}, err
	}
	prefix, err := netip.ParsePrefix(cidr)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("node %s: spec.podCIDR %q: %w", a.cfg.NodeName, cidr, err)
	}
	if err := a.runtime.SetPodCIDR(ctx, cidr); err != nil {
		return netip.Prefix{}, fmt.Errorf("node %s: %w", a.cfg.NodeName, err)
	}
	a.networkConfigured()
	return prefix, nil
}

// Cluster is what the node's pods get of the cluster's own services; either may be empty.
type Cluster struct {
	// DNS is what their resolv.conf is made from.
	DNS *resolvconf.Cluster
	// Env is the kubernetes Service's environment, which every container gets.
	Env []corev1.EnvVar
}

// RunPods runs the pods bound to the registered node until ctx ends. Containers keep
// running when it returns: a restarted agent adopts them.
func (a *Agent) RunPods(ctx context.Context, cluster Cluster) error {
	clientset, err := kubernetes.NewForConfigAndClient(a.Rest, a.HTTP)
	if err != nil {
		return err
	}
	allocatable := a.cfg.Allocatable
	if allocatable == nil {
		allocatable = a.cfg.Capacity
	}
	statuses := status.NewManager(a.client, a.log, 8)
	go statuses.Run(ctx)
	env := &podworker.Env{PodDir: a.cfg.PodDir, DNS: cluster.DNS, ServiceEnv: cluster.Env, Runtime: a.runtime, RuntimeName: a.cfg.RuntimeName, Client: a.client, Status: statuses,
		Clock: a.clock, HostIP: a.cfg.Address, Allocatable: allocatable, LogDir: a.cfg.LogDir, Recorder: events.NewRecorder(a.Events, a.Scheme, a.cfg.NodeName),
		Volumes: &volume.Manager{Root: a.cfg.PodDir, Client: a.client, Objects: &volume.Objects{Client: clientset, Direct: a.client}, Clock: a.clock, Tmpfs: a.cfg.Tmpfs, PinSubPaths: a.cfg.Tmpfs, NodeName: a.cfg.NodeName, ClaimRoot: filepath.Join(filepath.Dir(a.cfg.PodDir), "claims"), SharedClaimRoot: a.cfg.SharedClaimDir, HostIP: a.cfg.Address, Allocatable: allocatable}}

	pods, err := ctrlcache.New(a.Rest, ctrlcache.Options{Scheme: a.Scheme, HTTPClient: a.HTTP, Mapper: a.Mapper,
		ByObject: map[client.Object]ctrlcache.ByObject{&corev1alpha1.Pod{}: {Field: fields.OneTermEqualSelector("spec.nodeName", a.cfg.NodeName)}}})
	if err != nil {
		return err
	}
	informer, err := pods.GetInformer(ctx, &corev1alpha1.Pod{})
	if err != nil {
		return err
	}
	if _, err := informer.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { a.podChanged(ctx, env, statuses, obj.(*corev1alpha1.Pod)) },
		UpdateFunc: func(_, obj any) { a.podChanged(ctx, env, statuses, obj.(*corev1alpha1.Pod)) },
		DeleteFunc: func(obj any) {
			if t, ok := obj.(toolscache.DeletedFinalStateUnknown); ok {
				obj = t.Obj
			}
			if p, ok := obj.(*corev1alpha1.Pod); ok {
				a.podGone(p.UID)
			}
		},
	}); err != nil {
		return err
	}
	go func() {
		if err := pods.Start(ctx); err != nil {
			a.log.Error(err, "Watching the node's pods")
		}
	}()
	if !pods.WaitForCacheSync(ctx) {
		if ctx.Err() != nil {
			// Stopped while starting: nothing ran, nothing failed.
			return nil
		}
		return fmt.Errorf("node %s: the watch of its pods did not sync", a.cfg.NodeName)
	}
	a.mu.Lock()
	a.synced = true
	a.mu.Unlock()
	a.log.Info("Node agent running")
	if a.cfg.Eviction != nil {
		go a.cfg.Eviction.Run(ctx, evictable{a})
	}
	a.relist(ctx, pods)
	return nil
}

// podChanged hands a pod to its worker, starting one for a pod this agent must run or
// finish stopping.
func (a *Agent) podChanged(ctx context.Context, env *podworker.Env, statuses *status.Manager, pod *corev1alpha1.Pod) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if w, ok := a.workers[pod.UID]; ok {
		w.Update(pod)
		return
	}
	if pod.DeletionTimestamp != nil && !controllerutil.ContainsFinalizer(pod, corev1alpha1.NodeAgentFinalizer) {
		return
	}
	w := podworker.New(env, pod, a.log)
	a.workers[pod.UID] = w
	go func() {
		w.Run(ctx)
		a.mu.Lock()
		defer a.mu.Unlock()
		if a.workers[pod.UID] == w {
			delete(a.workers, pod.UID)
		}
		statuses.Forget(pod.UID)
	}()
}

func (a *Agent) podGone(uid types.UID) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if w, ok := a.workers[uid]; ok {
		w.Gone()
	}
}

// relist wakes the workers whose containers changed since the last look, and removes
// containers of pods this node no longer runs, until ctx ends. Every reclaimEvery
// relists it also releases sandboxes that no pod of the node's holds.
func (a *Agent) relist(ctx context.Context, pods client.Reader) {
	ticker := a.clock.NewTicker(relistPeriod)
	defer ticker.Stop()
	seen := map[types.UID]string{}
	for round := 0; ; round++ {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C():
		}
		if round%reclaimEvery == 0 {
			a.reclaimSandboxes(ctx, pods)
		}
		containers, err := a.runtime.Containers(ctx)
		if err != nil {
			a.log.Error(err, "Listing containers")
			continue
		}
		a.relisted()
		now := map[types.UID]string{}
		orphans := map[types.UID][]runtime.Container{}
		for _, c := range containers {
			// The reason too: an OOM kill is known from a containerd event that may come
			// after the exit was seen, and must still reach the pod's status.
			now[c.Pod.UID] += fmt.Sprintf("%s/%s/%s/%s;", c.ID, c.State, c.FinishedAt, c.Reason)
			orphans[c.Pod.UID] = append(orphans[c.Pod.UID], c)
		}
		a.mu.Lock()
		for uid, sig := range now {
			if w, ok := a.workers[uid]; ok {
				delete(orphans, uid)
				if seen[uid] != sig {
					w.Poke()
				}
			}
		}
		a.mu.Unlock()
		seen = now
		for uid, cs := range orphans {
			a.removeOrphan(ctx, uid, cs)
		}
	}
}

// reclaimSandboxes releases the sandboxes (addresses, network namespaces) of pods that are
// neither bound to this node nor have a container: what an agent that stopped midway
// between a sandbox and its containers left behind.
func (a *Agent) reclaimSandboxes(ctx context.Context, pods client.Reader) {
	held, err := a.runtime.Sandboxes(ctx)
	if err != nil {
		a.log.Error(err, "Listing sandboxes")
		return
	}
	if len(held) == 0 {
		return
	}
	containers, err := a.runtime.Containers(ctx)
	if err != nil {
		a.log.Error(err, "Listing containers")
		return
	}
	var list corev1alpha1.PodList
	if err := pods.List(ctx, &list); err != nil {
		a.log.Error(err, "Listing the node's pods")
		return
	}
	known := map[types.UID]bool{}
	for _, c := range containers {
		known[c.Pod.UID] = true
	}
	for i := range list.Items {
		known[list.Items[i].UID] = true
	}
	a.mu.Lock()
	for uid := range a.workers {
		known[uid] = true
	}
	a.mu.Unlock()
	for _, uid := range held {
		if known[uid] {
			continue
		}
		a.log.Info("Releasing the sandbox of a pod that is gone", "podUID", uid)
		if err := a.runtime.StopSandbox(ctx, runtime.PodRef{UID: uid}); err != nil {
			a.log.Error(err, "Releasing a leftover sandbox", "podUID", uid)
		}
	}
}

// removeOrphan stops and removes the containers, sandbox, volumes and logs of a pod that no longer
// exists, such as one force-deleted while the agent was away.
func (a *Agent) removeOrphan(ctx context.Context, uid types.UID, cs []runtime.Container) {
	a.log.Info("Removing containers of a pod that is gone", "podUID", uid, "containers", len(cs))
	for _, c := range cs {
		if err := a.runtime.StopContainer(ctx, c.ID, 0); err != nil {
			a.log.Error(err, "Stopping an orphaned container", "container", c.ID)
			return
		}
		if err := a.runtime.RemoveContainer(ctx, c.ID); err != nil {
			a.log.Error(err, "Removing an orphaned container", "container", c.ID)
			return
		}
	}
	if err := a.runtime.StopSandbox(ctx, cs[0].Pod); err != nil {
		a.log.Error(err, "Removing an orphaned sandbox", "podUID", uid)
		return
	}
	if err := (&volume.Manager{Root: a.cfg.PodDir}).TearDown(uid); err != nil {
		a.log.Error(err, "Removing an orphaned pod's volumes", "podUID", uid)
		return
	}
	if err := os.RemoveAll(podworker.PodLogDir(a.cfg.LogDir, cs[0].Pod)); err != nil {
		a.log.Error(err, "Removing an orphaned pod's logs", "podUID", uid)
	}
}
