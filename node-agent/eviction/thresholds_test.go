package eviction

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

func TestParseThresholds(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    []string
		wantErr string
	}{
		{in: DefaultHard, want: []string{"imagefs.available<15%", "imagefs.inodesFree<5%", "memory.available<100Mi", "nodefs.available<10%", "nodefs.inodesFree<5%"}},
		{in: "pid.available<1k, memory.available<1Gi", want: []string{"memory.available<1Gi", "pid.available<1k"}},
		{in: "nodefs.available<12.5%", want: []string{"nodefs.available<12.5%"}},
		{in: "memory.available<0,nodefs.available<0%", want: nil},
		{in: "", want: nil},
		{in: "memory.available>100Mi", wantErr: "is no threshold"},
		{in: "memory.free<100Mi", wantErr: "unsupported eviction signal"},
		{in: "memory.available<100Mi,memory.available<1Gi", wantErr: "duplicate"},
		{in: "nodefs.available<110%", wantErr: "from 0% to 100%"},
		{in: "nodefs.available<-1%", wantErr: "from 0% to 100%"},
		{in: "memory.available<lots", wantErr: "neither a quantity"},
		{in: "memory.available<-1Mi", wantErr: "must not be negative"},
	} {
		got, err := ParseThresholds("eviction-hard", tc.in)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !strings.Contains(err.Error(), "--eviction-hard") {
				t.Errorf("ParseThresholds(%q) = %v, want an error naming --eviction-hard with %q", tc.in, err, tc.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseThresholds(%q): %v", tc.in, err)
			continue
		}
		var strs []string
		for _, th := range got {
			strs = append(strs, th.String())
		}
		if strings.Join(strs, ",") != strings.Join(tc.want, ",") {
			t.Errorf("ParseThresholds(%q) = %v, want %v", tc.in, strs, tc.want)
		}
	}
}

func TestParseReserved(t *testing.T) {
	got, err := ParseReserved("system-reserved", "cpu=100m,memory=100Mi,ephemeral-storage=1Gi,pid=1000")
	if err != nil {
		t.Fatal(err)
	}
	want := corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m"), corev1.ResourceMemory: resource.MustParse("100Mi"),
		corev1.ResourceEphemeralStorage: resource.MustParse("1Gi"), ResourcePID: resource.MustParse("1000")}
	for name, q := range want {
		if g := got[name]; g.Cmp(q) != 0 {
			t.Errorf("%s = %s, want %s", name, g.String(), q.String())
		}
	}
	for in, wantErr := range map[string]string{
		"cpu":               "resource=quantity",
		"gpu=1":             "only cpu, memory",
		"cpu=1,cpu=2":       "twice",
		"memory=much":       "no quantity",
		"memory=-1Mi":       "must not be negative",
		"ephemeral-storage": "resource=quantity",
	} {
		if _, err := ParseReserved("kube-reserved", in); err == nil || !strings.Contains(err.Error(), wantErr) || !strings.Contains(err.Error(), "--kube-reserved") {
			t.Errorf("ParseReserved(%q) = %v, want an error naming --kube-reserved with %q", in, err, wantErr)
		}
	}
}

func TestAllocatable(t *testing.T) {
	capacity := corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("4"), corev1.ResourceMemory: resource.MustParse("8Gi"),
		corev1.ResourceEphemeralStorage: resource.MustParse("100Gi"), corev1.ResourcePods: resource.MustParse("110")}
	hard, err := ParseThresholds("eviction-hard", DefaultHard)
	if err != nil {
		t.Fatal(err)
	}
	res := func(s string) corev1.ResourceList {
		r, err := ParseReserved("system-reserved", s)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	for _, tc := range []struct {
		name                 string
		system, kube         corev1.ResourceList
		hard                 []Threshold
		cpu, mem, disk, pods string
	}{
		{name: "no reservation, no threshold", cpu: "4", mem: "8Gi", disk: "100Gi", pods: "110"},
		{name: "default thresholds", hard: hard, cpu: "4", mem: "8092Mi", disk: "90Gi", pods: "110"},
		{name: "reservations and thresholds", system: res("cpu=500m,memory=1Gi,ephemeral-storage=1Gi,pid=100"), kube: res("cpu=100m,memory=100Mi"),
			hard: hard, cpu: "3400m", mem: "6968Mi", disk: "89Gi", pods: "110"},
		{name: "more reserved than there is", system: res("cpu=8,memory=16Gi"), cpu: "0", mem: "0", disk: "100Gi", pods: "110"},
	} {
		got := Allocatable(capacity, tc.system, tc.kube, tc.hard)
		for name, want := range map[corev1.ResourceName]string{corev1.ResourceCPU: tc.cpu, corev1.ResourceMemory: tc.mem,
			corev1.ResourceEphemeralStorage: tc.disk, corev1.ResourcePods: tc.pods} {
			if g := got[name]; g.Cmp(resource.MustParse(want)) != 0 {
				t.Errorf("%s: %s = %s, want %s", tc.name, name, g.String(), want)
			}
		}
		if _, ok := got[ResourcePID]; ok {
			t.Errorf("%s: allocatable has pid, which capacity has not", tc.name)
		}
	}
}
