package main

import (
	"flag"
	"os"
	"path/filepath"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/kybern/kybern/node-agent/agent"
	"github.com/kybern/kybern/node-agent/eviction"
	"github.com/kybern/kybern/node-agent/runtime"
)

// evictionOptions are the kubelet's flags for node allocatable and node-pressure
// eviction, with upstream's syntax and defaults.
type evictionOptions struct {
	hard, systemReserved, kubeReserved string
	pressureTransitionPeriod           time.Duration
}

func (o *evictionOptions) bind(fs *flag.FlagSet) {
	fs.StringVar(&o.hard, "eviction-hard", eviction.DefaultHard, "Hard eviction thresholds, signal<quantity or signal<percentage%, comma-separated (signals: memory.available, nodefs.available, nodefs.inodesFree, imagefs.available, imagefs.inodesFree, pid.available); a threshold of 0 turns its signal off. Crossing one sets the node's pressure condition and evicts pods; memory.available and nodefs.available are also kept out of allocatable.")
	fs.StringVar(&o.systemReserved, "system-reserved", "", "Resources reserved for the system, kept out of the node's allocatable: cpu=100m,memory=100Mi,ephemeral-storage=1Gi,pid=1000.")
	fs.StringVar(&o.kubeReserved, "kube-reserved", "", "Resources reserved for the node agent and the runtime, kept out of the node's allocatable, as --system-reserved.")
	fs.DurationVar(&o.pressureTransitionPeriod, "eviction-pressure-transition-period", 5*time.Minute, "How long a pressure condition stays True after its threshold was last crossed.")
}

// parsed are the hard thresholds and the node's allocatable from capacity.
func (o *evictionOptions) parsed(capacity corev1.ResourceList) ([]eviction.Threshold, corev1.ResourceList, error) {
	hard, err := eviction.ParseThresholds("eviction-hard", o.hard)
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
	return hard, eviction.Allocatable(capacity, system, kube, hard), nil
}

// manager is the real node's eviction manager: nodefs is the pods' directory's
// filesystem, imagefs containerd's root's.
func (o *evictionOptions) manager(hard []eviction.Threshold, shared agent.Shared, node, podDir, logDir, imageFs string, rt runtime.Runtime) *eviction.Manager {
	return &eviction.Manager{Thresholds: hard, TransitionPeriod: o.pressureTransitionPeriod,
		Signals: eviction.Host{NodeFs: podDir, ImageFs: imageFs}, Usage: eviction.HostUsage{Runtime: rt, PodDir: podDir, LogDir: logDir},
		Clock: shared.Clock, Log: shared.Log.WithName("eviction").WithValues("node", node)}
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
