package server

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	statsv1alpha1 "k8s.io/kubelet/pkg/apis/stats/v1alpha1"

	"github.com/kybern/kybern/node-agent/runtime"
	"github.com/kybern/kybern/node-agent/stats"
)

// statsSummary serves /stats/summary: the kubelet's Summary of the node's and its pods'
// CPU and memory, as JSON.
func (s *Server) statsSummary(w http.ResponseWriter, r *http.Request) {
	sum, err := s.summary(r.Context())
	if err != nil {
		s.fail(w, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(sum) // Fails only when the caller has gone.
}

// summary measures the node and its containers once, for /stats/summary and
// /metrics/resource alike.
//
// Its pods are those of the runtime's running containers, named by the labels the agent
// wrote when it started them for a pod bound to this node. The runtime holds this node's
// containers only (containerd: a namespace of the agent's own), so the labels are trusted
// rather than each pod read from the API on every scrape; a pod deleted from the API is
// reported until its containers stop, as the kubelet reports the pods it still runs.
func (s *Server) summary(ctx context.Context) (*statsv1alpha1.Summary, error) {
	node, err := s.NodeStats.NodeStats(ctx)
	if err != nil {
		return nil, fmt.Errorf("measuring node %s: %w", s.Node, err)
	}
	containers, err := s.Runtime.ContainerStats(ctx)
	if err != nil {
		return nil, fmt.Errorf("measuring the containers of node %s: %w", s.Node, err)
	}
	return buildSummary(s.Node, node, containers), nil
}

// buildSummary is the Summary of node's usage n and its running containers cs: pods
// sorted by namespace and name, their containers by name. A pod's usage is the sum of its
// containers' (the kubelet reads the pod's cgroup, which also holds the sandbox's few KiB),
// measured when the last of them was; its start time is its first container's start.
//
// Only cumulative CPU is reported: UsageNanoCores, a rate, stays nil, as the agent keeps
// no earlier sample to take it from. The metrics server takes rates from two scrapes.
func buildSummary(node string, n stats.NodeStats, cs []runtime.ContainerStats) *statsv1alpha1.Summary {
	sum := &statsv1alpha1.Summary{
		Node: statsv1alpha1.NodeStats{NodeName: node, CPU: cpuStats(n.Timestamp, n.CPUUsageNanoseconds), Memory: memoryStats(n.Timestamp, n.MemoryWorkingSetBytes)},
		Pods: []statsv1alpha1.PodStats{},
	}
	byPod := map[types.UID][]runtime.ContainerStats{}
	for _, c := range cs {
		byPod[c.Pod.UID] = append(byPod[c.Pod.UID], c)
	}
	for _, containers := range byPod {
		sum.Pods = append(sum.Pods, podStats(containers))
	}
	slices.SortFunc(sum.Pods, func(a, b statsv1alpha1.PodStats) int {
		return cmp.Or(cmp.Compare(a.PodRef.Namespace, b.PodRef.Namespace), cmp.Compare(a.PodRef.Name, b.PodRef.Name), cmp.Compare(a.PodRef.UID, b.PodRef.UID))
	})
	return sum
}

// podStats sums one pod's containers, of which there is at least one.
func podStats(cs []runtime.ContainerStats) statsv1alpha1.PodStats {
	slices.SortFunc(cs, func(a, b runtime.ContainerStats) int { return cmp.Compare(a.Name, b.Name) })
	var cpu, mem uint64
	var at time.Time
	start := cs[0].StartedAt
	ref := cs[0].Pod
	p := statsv1alpha1.PodStats{PodRef: statsv1alpha1.PodReference{Name: ref.Name, Namespace: ref.Namespace, UID: string(ref.UID)}}
	for _, c := range cs {
		p.Containers = append(p.Containers, statsv1alpha1.ContainerStats{Name: c.Name, StartTime: metav1.NewTime(c.StartedAt),
			CPU: cpuStats(c.Timestamp, c.CPUUsageNanoseconds), Memory: memoryStats(c.Timestamp, c.MemoryWorkingSetBytes)})
		cpu, mem = cpu+c.CPUUsageNanoseconds, mem+c.MemoryWorkingSetBytes
		if c.Timestamp.After(at) {
			at = c.Timestamp
		}
		if c.StartedAt.Before(start) {
			start = c.StartedAt
		}
	}
	p.StartTime, p.CPU, p.Memory = metav1.NewTime(start), cpuStats(at, cpu), memoryStats(at, mem)
	return p
}

func cpuStats(at time.Time, usage uint64) *statsv1alpha1.CPUStats {
	return &statsv1alpha1.CPUStats{Time: metav1.NewTime(at), UsageCoreNanoSeconds: &usage}
}

func memoryStats(at time.Time, workingSet uint64) *statsv1alpha1.MemoryStats {
	return &statsv1alpha1.MemoryStats{Time: metav1.NewTime(at), WorkingSetBytes: &workingSet}
}
