package main

import (
	"os"
	goruntime "runtime"
	"strings"
	"syscall"

	corev1 "k8s.io/api/core/v1"
)

// maxPods is the pods a node takes, upstream's kubelet default.
const maxPods = 110

// nodeInfo describes the machine as Node.status.nodeInfo does.
func nodeInfo(runtimeVersion, agentVersion string) corev1.NodeSystemInfo {
	info := corev1.NodeSystemInfo{OperatingSystem: "linux", Architecture: goruntime.GOARCH,
		ContainerRuntimeVersion: runtimeVersion, KubeletVersion: agentVersion, KubeProxyVersion: agentVersion}
	var u syscall.Utsname
	if syscall.Uname(&u) == nil {
		info.KernelVersion = utsString(u.Release[:])
	}
	if data, err := os.ReadFile("/etc/os-release"); err == nil {
		for line := range strings.SplitSeq(string(data), "\n") {
			if v, ok := strings.CutPrefix(line, "PRETTY_NAME="); ok {
				info.OSImage = strings.Trim(v, `"`)
			}
		}
	}
	info.MachineID = readTrimmed("/etc/machine-id")
	info.SystemUUID = readTrimmed("/sys/class/dmi/id/product_uuid")
	if info.SystemUUID == "" {
		info.SystemUUID = info.MachineID
	}
	info.BootID = readTrimmed("/proc/sys/kernel/random/boot_id")
	return info
}

func utsString(b []int8) string {
	out := make([]byte, 0, len(b))
	for _, c := range b {
		if c == 0 {
			break
		}
		out = append(out, byte(c))
	}
	return string(out)
}

// readTrimmed is a small file's content without surrounding space; "" when unreadable.
func readTrimmed(path string) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(data))
}
