package podworker

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/utils/ptr"

	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
	"github.com/kybern/kybern/node-agent/runtime"
)

func TestContainerResources(t *testing.T) {
	list := func(cpu, mem string) corev1.ResourceList {
		l := corev1.ResourceList{}
		if cpu != "" {
			l[corev1.ResourceCPU] = resource.MustParse(cpu)
		}
		if mem != "" {
			l[corev1.ResourceMemory] = resource.MustParse(mem)
		}
		return l
	}
	const node = 8 << 30
	cases := []struct {
		name     string
		requests corev1.ResourceList
		limits   corev1.ResourceList
		want     runtime.Resources
	}{
		{name: "no requests or limits: BestEffort, minimal shares", want: runtime.Resources{CPUShares: 2, OOMScoreAdj: 1000}},
		{name: "requests 250m/64Mi, limits 500m/128Mi: Burstable", requests: list("250m", "64Mi"), limits: list("500m", "128Mi"),
			want: runtime.Resources{CPUShares: 256, CPUQuota: 50000, CPUPeriod: 100000, MemoryLimit: 128 << 20, OOMScoreAdj: 1000 - 1000*(64<<20)/node}},
		{name: "limits only stand for requests: Guaranteed", limits: list("1", "1Gi"),
			want: runtime.Resources{CPUShares: 1024, CPUQuota: 100000, CPUPeriod: 100000, MemoryLimit: 1 << 30, OOMScoreAdj: -997}},
		{name: "a tiny limit still gets a 1 ms quota", requests: list("1m", ""), limits: list("1m", ""),
			want: runtime.Resources{CPUShares: 2, CPUQuota: 1000, CPUPeriod: 100000, OOMScoreAdj: 999}},
		{name: "a Burstable container requesting all memory stays above Guaranteed", requests: list("", "8Gi"),
			want: runtime.Resources{CPUShares: 2, OOMScoreAdj: 3}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := corev1.Container{Name: "c", Resources: corev1.ResourceRequirements{Requests: tc.requests, Limits: tc.limits}}
			pod := &corev1alpha1.Pod{}
			pod.Spec.Containers = []corev1.Container{c}
			if got := containerResources(pod, &c, node); got != tc.want {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestContainerSecurity(t *testing.T) {
	pod := &corev1alpha1.Pod{}
	pod.Spec.SecurityContext = &corev1.PodSecurityContext{RunAsUser: ptr.To[int64](1000), RunAsGroup: ptr.To[int64](3000)}
	c := corev1.Container{Name: "c", SecurityContext: &corev1.SecurityContext{RunAsUser: ptr.To[int64](2000), ReadOnlyRootFilesystem: ptr.To(true),
		Capabilities: &corev1.Capabilities{Add: []corev1.Capability{"NET_BIND_SERVICE"}, Drop: []corev1.Capability{"ALL"}}}}
	got := containerSecurity(pod, &c)
	if *got.RunAsUser != 2000 || *got.RunAsGroup != 3000 {
		t.Fatalf("user %d:%d, want the container's user 2000 and the pod's group 3000", *got.RunAsUser, *got.RunAsGroup)
	}
	if !got.ReadOnlyRootFS || got.Privileged || len(got.AddCapabilities) != 1 || got.DropCapabilities[0] != "ALL" {
		t.Fatalf("security %+v", got)
	}
}
