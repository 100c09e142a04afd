package main

import (
	"flag"
	"os"
	"path/filepath"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/kybern/kybern/node-agent/agent"
	"github.com/kybern/kybern/node-agent/eviction"
	"github.com/kybern/kybern/node-agent/runtime"
)

// evictionOptions are the kubelet's flags for node allocatable and node-pressure
// eviction, with upstream's syntax and defaults.
type evictionOptions struct {
	hard, soft, softGracePeriod, minimumReclaim string
	systemReserved, kubeReserved                string
	pressureTransitionPeriod                    time.Duration
	maxPodGracePeriodSeconds                    int
}

func (o *evictionOptions) bind(fs *flag.FlagSet) {
	fs.StringVar(&o.hard, "eviction-hard", eviction.DefaultHard, "Hard eviction thresholds, signal<quantity or signal<percentage%, comma-separated (signals: memory.available, nodefs.available, nodefs.inodesFree, imagefs.available, imagefs.inodesFree, pid.available); a threshold of 0 turns its signal off. Crossing one sets the node's pressure condition and evicts pods; memory.available and nodefs.available are also kept out of allocatable.")
	fs.StringVar(&o.soft, "eviction-soft", "", "Soft eviction thresholds, as --eviction-hard: crossing one sets the node's pressure condition at once, but evicts pods only once it has been crossed for its --eviction-soft-grace-period, with at most --eviction-max-pod-grace-period for them to stop.")
	fs.StringVar(&o.softGracePeriod, "eviction-soft-grace-period", "", "How long each soft threshold must be crossed before it evicts, signal=duration, comma-separated, such as memory.available=1m30s; every signal of --eviction-soft needs one.")
	fs.IntVar(&o.maxPodGracePeriodSeconds, "eviction-max-pod-grace-period", 0, "The most seconds a pod evicted on a soft threshold gets to stop; a pod whose terminationGracePeriodSeconds is shorter gets that. Every evicted pod gets at least 1 s.")
	fs.StringVar(&o.minimumReclaim, "eviction-minimum-reclaim", "", "How much above its thresholds a signal must be back before the pressure it made counts as relieved, signal=quantity or signal=percentage%, comma-separated, such as nodefs.available=500Mi.")
	fs.StringVar(&o.systemReserved, "system-reserved", "", "Resources reserved for the system, kept out of the node's allocatable: cpu=100m,memory=100Mi,ephemeral-storage=1Gi,pid=1000.")
	fs.StringVar(&o.kubeReserved, "kube-reserved", "", "Resources reserved for the node agent and the runtime, kept out of the node's allocatable, as --system-reserved.")
	fs.DurationVar(&o.pressureTransitionPeriod, "eviction-pressure-transition-period", 5*time.Minute, "How long a pressure condition stays True after its threshold was last crossed.")
}

// parsed are the hard and soft thresholds and the node's allocatable from capacity.
func (o *evictionOptions) parsed(capacity corev1.ResourceList) ([]eviction.Threshold, corev1.ResourceList, error) {
	hard, err := eviction.ParseThresholds("eviction-hard", o.hard)
	if err != nil {
		return nil, nil, err
	}
	soft, err := eviction.ParseThresholds("eviction-soft", o.soft)
	if err != nil {
		return nil, nil, err
	}
	thresholds, err := eviction.Combine(hard, soft, o.softGracePeriod, o.minimumReclaim)
	if err != nil {
		return nil, nil, err
	}
	system, err := eviction.ParseReserved("system-reserved", o.systemReserved)
	if err != nil {
		return nil, nil, err
	}
	kube, err := eviction.ParseReserved("kube-reserved", o.kubeReserved)
	if err != nil {
		return nil, nil, err
	}
	return thresholds, eviction.Allocatable(capacity, system, kube, hard), nil
}

// manager is the real node's eviction manager: nodefs is the pods' directory's
// filesystem, imagefs containerd's root's; images, the image garbage collector, deletes
// the unused images under disk pressure before any pod is evicted.
func (o *evictionOptions) manager(thresholds []eviction.Threshold, shared agent.Shared, node, podDir, logDir, imageFs string, rt runtime.Runtime, images eviction.Images) *eviction.Manager {
	return eviction.NewManager(eviction.Config{Thresholds: thresholds, TransitionPeriod: o.pressureTransitionPeriod,
		MaxPodGracePeriod: time.Duration(o.maxPodGracePeriodSeconds) * time.Second,
		Signals:           eviction.Host{NodeFs: podDir, ImageFs: imageFs}, Usage: eviction.HostUsage{Runtime: rt, PodDir: podDir, LogDir: logDir},
		Images: images, DedicatedImageFs: !sameFilesystem(podDir, imageFs),
		Clock: shared.Clock, Log: shared.Log.WithName("eviction").WithValues("node", node)})
}

// sameFilesystem says whether a and b are on one filesystem; true when either cannot be
// looked at, as then imagefs is measured on nodefs's.
func sameFilesystem(a, b string) bool {
	var sa, sb syscall.Stat_t
	if syscall.Stat(a, &sa) != nil || syscall.Stat(b, &sb) != nil {
		return true
	}
	return sa.Dev == sb.Dev
}

// imageFs is containerd's root: the embedded containerd's under the state directory, or
// the host containerd's default, or the pods' directory's filesystem's when that is
// missing.
func imageFs(o options) string {
	dir := "/var/lib/containerd"
	if o.containerdMode == "embedded" {
		dir = filepath.Join(o.stateDir, "nodes", o.nodeName, "root")
	}
	if _, err := os.Stat(dir); err != nil {
		return o.stateDir
	}
	return dir
}
