// Command node-agent is kybern's kubelet: it registers a Node, keeps its Lease and runs
// the pods bound to it. With --simulate-nodes it runs that many simulated nodes, whose
// containers are not processes, for scale tests.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	goruntime "runtime"
	"time"

	"golang.org/x/sync/errgroup"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/runtime"
	utilnet "k8s.io/apimachinery/pkg/util/net"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	ctrlcache "sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	corev1 "k8s.io/api/core/v1"

	"github.com/kybern/kybern/api"
	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
	"github.com/kybern/kybern/node-agent/agent"
	"github.com/kybern/kybern/node-agent/apiservice"
	"github.com/kybern/kybern/node-agent/dns"
	"github.com/kybern/kybern/node-agent/events"
	"github.com/kybern/kybern/node-agent/identity"
	"github.com/kybern/kybern/node-agent/imagegc"
	"github.com/kybern/kybern/node-agent/proxy"
	"github.com/kybern/kybern/node-agent/resolvconf"
	"github.com/kybern/kybern/node-agent/runtime/containerd"
	"github.com/kybern/kybern/node-agent/runtime/simulated"
	"github.com/kybern/kybern/node-agent/server"
)

// version is what the Node reports as its kubelet and kube-proxy version.
const version = "kybern-v0.1.0"

type options struct {
	nodeName            string
	bootstrapKubeconfig string
	certDir             string
	logDir              string
	stateDir            string
	imageDir            string
	containerdAddress   string
	containerdMode      string
	simulateNodes       int
	cleanup             bool
	simLatency          time.Duration
	simCPU, simMem      string
	serviceRanges       proxy.Ranges
	clusterCIDR         netip.Prefix
	containerLogs       containerLogOptions
	api                 apiOptions
	eventQPS            float64
	eventBurst          int
	eviction            evictionOptions
	sharedClaimDir      string
	imageGC             imageGCOptions
}

func main() {
	hostname, _ := os.Hostname()
	var o options
	flag.StringVar(&o.nodeName, "node-name", hostname, "The Node's name; with --simulate-nodes, the prefix of the simulated nodes' names (<name>-0, <name>-1, …).")
	flag.StringVar(&o.logDir, "log-dir", "/var/log/pods", "Where container logs go: <log-dir>/<namespace>_<pod>_<uid>/<container>/<restart>.log.")
	flag.StringVar(&o.containerLogs.maxSize, "container-log-max-size", "10Mi", "A container's log file is rotated once it reaches this size, a quantity (10Mi, 64Ki); a negative size never rotates it.")
	flag.IntVar(&o.containerLogs.maxFiles, "container-log-max-files", 5, "The most log files a container keeps, the current one included; the oldest rotated one is removed. At least 2.")
	flag.StringVar(&o.stateDir, "state-dir", ".kybern", "Where --containerd=embedded keeps each node's containerd: <state-dir>/nodes/<node>/.")
	flag.StringVar(&o.imageDir, "image-dir", ".kybern/images", "Image archives (*.tar, OCI layout) imported at start; they count as present under any pull policy.")
	flag.StringVar(&o.containerdAddress, "containerd-address", "/run/containerd/containerd.sock", "The containerd socket to use.")
	flag.StringVar(&o.containerdMode, "containerd", "", "embedded: start and stop a containerd of this agent's own instead of using --containerd-address.")
	flag.StringVar(&o.bootstrapKubeconfig, "bootstrap-kubeconfig", "", "A bootstrap token's kubeconfig: the agent asks with it for a client certificate of its own (kybern:node:<node-name>), kept in --cert-dir and renewed before it expires, and uses no other credential; without it, --kubeconfig's credential is used.")
	flag.StringVar(&o.certDir, "cert-dir", "", "Where the agent keeps the client certificate --bootstrap-kubeconfig obtains (default <state-dir>/nodes/<node-name>/pki).")
	flag.BoolVar(&o.cleanup, "cleanup", false, "Remove the node's service rules (its nftables tables) and exit, for a node that is gone for good; the agent leaves the proxy's when it stops, so that Services keep working across a restart.")
	flag.IntVar(&o.simulateNodes, "simulate-nodes", 0, "Run this many simulated nodes, whose containers are not processes, instead of one real node.")
	flag.DurationVar(&o.simLatency, "simulated-start-latency", 50*time.Millisecond, "How long a simulated container takes to start.")
	flag.StringVar(&o.simCPU, "simulated-cpu", "32", "Each simulated node's cpu capacity.")
	flag.StringVar(&o.simMem, "simulated-memory", "64Gi", "Each simulated node's memory capacity.")
	flag.TextVar(&o.serviceRanges.ClusterIPs, "service-cluster-ip-range", netip.MustParsePrefix(corev1alpha1.DefaultServiceClusterIPRange),
		"The manager's --service-cluster-ip-range: the proxy programs no cluster IP outside it.")
	flag.TextVar(&o.clusterCIDR, "cluster-cidr", netip.MustParsePrefix(corev1alpha1.DefaultClusterCIDR),
		"The manager's --cluster-cidr, which the Nodes' pod CIDRs come from: pods get routes for it, and the agent refuses a pod CIDR outside it.")
	o.serviceRanges.NodePorts = *utilnet.ParsePortRangeOrDie(corev1alpha1.DefaultServiceNodePortRange)
	flag.Var(&o.serviceRanges.NodePorts, "service-node-port-range", "The manager's --service-node-port-range: the proxy programs no node port outside it.")
	flag.StringVar(&o.api.address, "address", "0.0.0.0", "The address the agent's API (logs, exec, port-forward) listens on.")
	flag.IntVar(&o.api.port, "port", server.DefaultPort, "The port of the agent's API, reported as the Node's kubelet endpoint; 0 serves no API. Agents that share a machine need a port each.")
	flag.StringVar(&o.api.clientCAFile, "client-ca-file", "", "The CA that the API verifies client certificates against (default: the cluster's, which kube-apiserver publishes in kube-system/extension-apiserver-authentication).")
	flag.StringVar(&o.api.certFile, "tls-cert-file", "", "The API's serving certificate (with --tls-private-key-file); without it, the agent asks for one through a CertificateSigningRequest of signer kubernetes.io/kubelet-serving, kept in --cert-dir.")
	flag.StringVar(&o.api.keyFile, "tls-private-key-file", "", "The key of --tls-cert-file.")
	flag.Float64Var(&o.eventQPS, "event-qps", events.DefaultQPS, "Events the agent writes per second at most, as the kubelet's --event-qps; 0 writes none, where the kubelet's 0 means its default.")
	flag.IntVar(&o.eventBurst, "event-burst", events.DefaultBurst, "Events the agent may write at once above --event-qps, as the kubelet's --event-burst.")
	flag.StringVar(&o.sharedClaimDir, "shared-claim-dir", "", "Where a filesystem that every node mounts at the same path (NFS, CephFS, …) is mounted: claims of StorageClasses with provisioner "+corev1alpha1.SharedDirectoryProvisioner+" keep their data there, so it follows their pods to any node. It must exist; empty: this node runs no pod with such a claim.")
	o.eviction.bind(flag.CommandLine)
	o.imageGC.bind(flag.CommandLine)
	zapOpts := zap.Options{}
	zapOpts.BindFlags(flag.CommandLine)
	flag.Parse()
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&zapOpts)))
	log := ctrl.Log.WithName("node-agent")

	if err := run(ctrl.SetupSignalHandler(), o); err != nil {
		log.Error(err, "Node agent stopped")
		os.Exit(1)
	}
}

func run(ctx context.Context, o options) error {
	if o.cleanup {
		return errors.Join(proxy.Cleanup(ctx, proxy.TableName(o.nodeName)), apiservice.Cleanup(ctx, o.nodeName))
	}
	if err := corev1alpha1.ValidateClusterCIDR(o.clusterCIDR, o.serviceRanges.ClusterIPs); err != nil {
		return err
	}
	if _, _, err := o.eviction.parsed(nil); err != nil {
		return err
	}
	if err := checkSharedClaimDir(&o.sharedClaimDir); err != nil {
		return err
	}
	if err := o.imageGC.policy.Validate(); err != nil {
		return err
	}
	cfg, err := clientConfig(ctx, o)
	if err != nil {
		return err
	}
	shared, err := newShared(cfg)
	if err != nil {
		return err
	}
	if shared.Events, err = events.NewBroadcaster(ctx, shared.Rest, shared.HTTP, float32(o.eventQPS), o.eventBurst); err != nil {
		return err
	}
	if o.simulateNodes > 0 {
		return runSimulated(ctx, o, shared)
	}
	return runContainerd(ctx, o, shared)
}

// runContainerd runs one real node whose containers containerd runs.
func runContainerd(ctx context.Context, o options, shared agent.Shared) error {
	if err := os.MkdirAll(o.stateDir, 0o755); err != nil {
		return err
	}
	address := o.containerdAddress
	var embedded *containerd.Embedded
	switch o.containerdMode {
	case "":
	case "embedded":
		// Restarted with a backoff whenever it dies; the containers keep running meanwhile.
		e, err := containerd.StartEmbedded(ctx, filepath.Join(o.stateDir, "nodes", o.nodeName),
			containerd.Supervision{Log: shared.Log.WithName("containerd").WithValues("node", o.nodeName)})
		if err != nil {
			return err
		}
		defer func() {
			if err := e.Stop(); err != nil {
				shared.Log.Error(err, "Stopping the embedded containerd")
			}
		}()
		address, embedded = e.Address, e
	default:
		return fmt.Errorf("--containerd=%s: the only mode is embedded", o.containerdMode)
	}
	logDriver, err := o.containerLogs.driver()
	if err != nil {
		return err
	}
	rt, err := containerd.New(address, "kybern-"+o.nodeName, logDriver, filepath.Join(o.stateDir, "nodes", o.nodeName),
		containerd.Ranges{Pods: o.clusterCIDR, Services: o.serviceRanges.ClusterIPs})
	if err != nil {
		return err
	}
	defer rt.Close()
	go rt.WatchOOM(ctx, shared.Log)
	runtimeVersion, err := rt.Version(ctx)
	if err != nil {
		return fmt.Errorf("containerd at %s: %w (is it running? --containerd=embedded starts one)", address, err)
	}
	imported, err := rt.ImportDir(ctx, o.imageDir)
	if err != nil {
		return err
	}
	shared.Log.Info("Imported images", "dir", o.imageDir, "images", imported)
	capacity, err := hostCapacity(o.stateDir)
	if err != nil {
		return err
	}
	hard, allocatable, err := o.eviction.parsed(capacity)
	if err != nil {
		return err
	}
	podDir := filepath.Join(o.stateDir, "nodes", o.nodeName, "pods")
	if err := os.MkdirAll(podDir, 0o755); err != nil {
		return err
	}
	images := imagegc.New(o.imageGC.policy, rt, imagegc.Dir(imageFs(o)), shared.Clock, shared.Log.WithName("imagegc").WithValues("node", o.nodeName))
	go images.Run(ctx)
	evictions := o.eviction.manager(hard, shared, o.nodeName, podDir, o.logDir, imageFs(o), rt, images)
	services, err := startProxy(ctx, o.nodeName, o.serviceRanges, shared)
	if err != nil {
		return err
	}
	hostResolv, err := os.ReadFile("/etc/resolv.conf")
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	host := resolvconf.Parse(string(hostResolv))
	a, err := agent.New(shared, agent.Config{NodeName: o.nodeName, Arch: goruntime.GOARCH, Capacity: capacity, Allocatable: allocatable, Address: hostAddress(),
		NodeInfo: nodeInfo(runtimeVersion, version), LogDir: o.logDir, RuntimeName: "containerd",
		PodDir: podDir, SharedClaimDir: o.sharedClaimDir, Tmpfs: true, APIPort: int32(o.api.port), Eviction: evictions}, rt)
	if err != nil {
		return err
	}
	if embedded != nil {
		// The node's Ready condition follows containerd's deaths and restarts at once.
		embedded.OnChange(func(bool) { a.StatusChanged() })
	}
	evictions.OnPressureChanged(a.StatusChanged)
	podCIDR, err := a.Register(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return nil // Stopped while registering.
		}
		return err
	}
	if err := startAPI(ctx, o, shared, rt); err != nil {
		return err
	}
	// The cluster DNS and the apiserver relay listen on the pod network's gateway, the
	// bridge's address, which every pod of the node reaches.
	gateway := podCIDR.Masked().Addr().Next()
	apiService, err := startAPIRelay(ctx, o.nodeName, podCIDR, gateway, shared)
	if err != nil {
		return err
	}
	clusterDNS := &dns.Server{Domain: clusterDomain, Upstreams: upstreams(host), Static: []corev1alpha1.Service{apiService.DNSRecord()},
		Log: shared.Log.WithName("dns").WithValues("node", o.nodeName)}
	go func() {
		if err := clusterDNS.Run(ctx, services, gateway.String()); err != nil {
			shared.Log.Error(err, "Cluster DNS stopped", "node", o.nodeName, "address", gateway)
		}
	}()
	return a.RunPods(ctx, agent.Cluster{DNS: &resolvconf.Cluster{Server: gateway.String(), Domain: clusterDomain, Host: host}, Env: apiService.Env()})
}

// startAPIRelay reads the kubernetes Service and relays what the node's pods send to it
// to the apiserver, until ctx ends.
func startAPIRelay(ctx context.Context, node string, podCIDR netip.Prefix, gateway netip.Addr, shared agent.Shared) (apiservice.Service, error) {
	c, err := client.New(shared.Rest, client.Options{Scheme: shared.Scheme, HTTPClient: shared.HTTP, Mapper: shared.Mapper})
	if err != nil {
		return apiservice.Service{}, err
	}
	svc, err := apiservice.Discover(ctx, c)
	if err != nil {
		return apiservice.Service{}, err
	}
	relay := &apiservice.Relay{Node: node, PodCIDR: podCIDR, Gateway: gateway, APIServer: shared.Rest.Host,
		Log: shared.Log.WithName("apiserver-relay").WithValues("node", node)}
	go func() {
		if err := relay.Run(ctx, svc); err != nil {
			relay.Log.Error(err, "The apiserver relay stopped: pods reach no apiserver at the kubernetes Service")
		}
	}()
	return svc, nil
}

// clusterDomain is the DNS domain of Services: upstream's default, which pods' search
// paths assume.
const clusterDomain = "cluster.local"

// upstreams are the host's nameservers, where the cluster DNS sends other names.
func upstreams(r resolvconf.Conf) []string {
	out := make([]string, len(r.Nameservers))
	for i, ns := range r.Nameservers {
		out[i] = net.JoinHostPort(ns, "53")
	}
	return out
}

// startProxy runs the node's service proxy beside its agent, until ctx ends, and returns
// the cache of Services and EndpointSlices it watches, which the cluster DNS shares.
func startProxy(ctx context.Context, node string, ranges proxy.Ranges, shared agent.Shared) (ctrlcache.Cache, error) {
	if !ranges.ClusterIPs.Addr().Is4() {
		return nil, fmt.Errorf("--service-cluster-ip-range=%s: must be an IPv4 CIDR, the manager's", ranges.ClusterIPs)
	}
	c, err := ctrlcache.New(shared.Rest, ctrlcache.Options{Scheme: shared.Scheme, HTTPClient: shared.HTTP, Mapper: shared.Mapper})
	if err != nil {
		return nil, err
	}
	log := shared.Log.WithName("proxy").WithValues("node", node)
	p := &proxy.Proxy{Table: proxy.TableName(node), Bridges: containerd.BridgePrefix + "*",
		Ranges: ranges, Log: log, MinSyncInterval: time.Second}
	go func() {
		if err := c.Start(ctx); err != nil {
			log.Error(err, "Service proxy cache stopped")
		}
	}()
	go func() {
		if err := p.Run(ctx, c); err != nil {
			log.Error(err, "Service proxy stopped")
		}
	}()
	return c, nil
}

// containerLogOptions are the kubelet's containerLogMaxSize and containerLogMaxFiles.
type containerLogOptions struct {
	maxSize  string
	maxFiles int
}

// driver is kybern-log-driver, rotating logs as the options say, which are checked as
// the kubelet's container log manager checks them (pkg/kubelet/logs).
func (o containerLogOptions) driver() (containerd.LogDriver, error) {
	q, err := resource.ParseQuantity(o.maxSize)
	size, whole := q.AsInt64()
	switch {
	case err != nil || !whole || size == 0:
		return containerd.LogDriver{}, fmt.Errorf("--container-log-max-size=%s: must be a whole number of bytes, such as 10Mi, or negative for no rotation", o.maxSize)
	case o.maxFiles < 2:
		return containerd.LogDriver{}, fmt.Errorf("--container-log-max-files=%d: must be at least 2, the current file and a rotated one", o.maxFiles)
	}
	path, err := logDriverPath()
	return containerd.LogDriver{Path: path, MaxSize: max(size, 0), MaxFiles: o.maxFiles}, err
}

// logDriverPath is kybern-log-driver beside this binary, as make build puts it.
func logDriverPath() (string, error) {
	self, err := os.Executable()
	if err != nil {
		return "", err
	}
	path := filepath.Join(filepath.Dir(self), "kybern-log-driver")
	if _, err := os.Stat(path); err != nil {
		return "", fmt.Errorf("the container log driver %s is missing: build it beside node-agent with make build", path)
	}
	return path, nil
}

// runSimulated runs o.simulateNodes simulated nodes in this process.
func runSimulated(ctx context.Context, o options, shared agent.Shared) error {
	capacity, err := simulatedCapacity(o)
	if err != nil {
		return err
	}
	g, ctx := errgroup.WithContext(ctx)
	for i := range o.simulateNodes {
		name := fmt.Sprintf("%s-%d", o.nodeName, i)
		rt := simulated.New(clock.RealClock{}, o.simLatency)
		runtimeVersion, err := rt.Version(ctx)
		if err != nil {
			return err
		}
		a, err := agent.New(shared, agent.Config{NodeName: name, Arch: goruntime.GOARCH, Capacity: capacity, Address: "127.0.0.1",
			NodeInfo: nodeInfo(runtimeVersion, version), LogDir: o.logDir, RuntimeName: "simulated",
			PodDir: filepath.Join(o.stateDir, "nodes", name, "pods")}, rt)
		if err != nil {
			return err
		}
		g.Go(func() error { return a.Run(ctx) })
	}
	return g.Wait()
}

// clientConfig is the agent's credential: the certificate it obtains and renews with
// --bootstrap-kubeconfig, or else --kubeconfig's, which must not be another node's.
func clientConfig(ctx context.Context, o options) (*rest.Config, error) {
	if o.bootstrapKubeconfig == "" {
		cfg, err := ctrl.GetConfig()
		if err != nil {
			return nil, err
		}
		if o.simulateNodes > 0 {
			return cfg, nil
		}
		return cfg, identity.Check(ctx, cfg, o.nodeName)
	}
	if o.simulateNodes > 0 {
		return nil, errors.New("--bootstrap-kubeconfig gives one real node its identity; simulated nodes share --kubeconfig: drop one of the two")
	}
	bootstrap, err := clientcmd.BuildConfigFromFlags("", o.bootstrapKubeconfig)
	if err != nil {
		return nil, fmt.Errorf("--bootstrap-kubeconfig=%s: %w", o.bootstrapKubeconfig, err)
	}
	return identity.Start(ctx, o.nodeName, o.nodeCertDir(), bootstrap, ctrl.Log.WithName("node-agent").WithValues("node", o.nodeName))
}

// nodeCertDir is where the node's certificates are kept.
func (o options) nodeCertDir() string {
	if o.certDir != "" {
		return o.certDir
	}
	return filepath.Join(o.stateDir, "nodes", o.nodeName, "pki")
}

func newShared(cfg *rest.Config) (agent.Shared, error) {
	cfg = rest.CopyConfig(cfg)
	cfg.UserAgent = "kybern-node-agent/" + version
	scheme := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(scheme))
	utilruntime.Must(api.AddToScheme(scheme))
	httpClient, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return agent.Shared{}, err
	}
	mapper, err := apiutil.NewDynamicRESTMapper(cfg, httpClient)
	if err != nil {
		return agent.Shared{}, err
	}
	return agent.Shared{Rest: cfg, HTTP: httpClient, Mapper: mapper, Scheme: scheme, Clock: clock.RealClock{}, Log: ctrl.Log.WithName("node-agent")}, nil
}

func simulatedCapacity(o options) (corev1.ResourceList, error) {
	cpu, err := resource.ParseQuantity(o.simCPU)
	if err != nil {
		return nil, fmt.Errorf("--simulated-cpu=%s: %w", o.simCPU, err)
	}
	mem, err := resource.ParseQuantity(o.simMem)
	if err != nil {
		return nil, fmt.Errorf("--simulated-memory=%s: %w", o.simMem, err)
	}
	return corev1.ResourceList{corev1.ResourceCPU: cpu, corev1.ResourceMemory: mem,
		corev1.ResourcePods:             *resource.NewQuantity(maxPods, resource.DecimalSI),
		corev1.ResourceEphemeralStorage: resource.MustParse("100Gi")}, nil
}

// checkSharedClaimDir makes *dir absolute and checks that it is a directory: a missing
// mount point is an error, not a local directory that would keep claims' data on one node.
func checkSharedClaimDir(dir *string) error {
	if *dir == "" {
		return nil
	}
	abs, err := filepath.Abs(*dir)
	if err != nil {
		return fmt.Errorf("--shared-claim-dir %q: %w", *dir, err)
	}
	info, err := os.Stat(abs)
	if err != nil {
		return fmt.Errorf("--shared-claim-dir %q: %w: mount the shared filesystem there first", *dir, err)
	}
	if !info.IsDir() {
		return fmt.Errorf("--shared-claim-dir %q is not a directory: give the shared filesystem's mount point", *dir)
	}
	*dir = abs
	return nil
}
