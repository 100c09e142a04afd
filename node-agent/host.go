package main

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"os"
	goruntime "runtime"
	"strings"
	"syscall"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

// maxPods is the pods a node takes, upstream's kubelet default.
const maxPods = 110

// hostCapacity reads the machine's cpus, its memory and the size of the filesystem that
// holds dir.
func hostCapacity(dir string) (corev1.ResourceList, error) {
	mem, err := memTotal()
	if err != nil {
		return nil, err
	}
	var fs syscall.Statfs_t
	if err := syscall.Statfs(dir, &fs); err != nil {
		return nil, fmt.Errorf("reading the size of %s: %w", dir, err)
	}
	return corev1.ResourceList{
		corev1.ResourceCPU:              *resource.NewQuantity(int64(goruntime.NumCPU()), resource.DecimalSI),
		corev1.ResourceMemory:           *resource.NewQuantity(mem, resource.BinarySI),
		corev1.ResourcePods:             *resource.NewQuantity(maxPods, resource.DecimalSI),
		corev1.ResourceEphemeralStorage: *resource.NewQuantity(int64(fs.Blocks)*fs.Bsize, resource.BinarySI),
	}, nil
}

func memTotal() (int64, error) {
	data, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0, err
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		var kb int64
		if n, _ := fmt.Sscanf(sc.Text(), "MemTotal: %d kB", &kb); n == 1 {
			return kb * 1024, nil
		}
	}
	return 0, fmt.Errorf("/proc/meminfo has no MemTotal")
}

// hostAddress is the machine's first non-loopback IPv4 address, or 127.0.0.1.
func hostAddress() string {
	addrs, err := net.InterfaceAddrs()
	if err == nil {
		for _, a := range addrs {
			if ipnet, ok := a.(*net.IPNet); ok && !ipnet.IP.IsLoopback() && ipnet.IP.To4() != nil {
				return ipnet.IP.String()
			}
		}
	}
	return "127.0.0.1"
}

// nodeInfo describes the machine as Node.status.nodeInfo does.
func nodeInfo(runtimeVersion, agentVersion string) corev1.NodeSystemInfo {
	info := corev1.NodeSystemInfo{OperatingSystem: "linux", Architecture: goruntime.GOARCH,
		ContainerRuntimeVersion: runtimeVersion, KubeletVersion: agentVersion}
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
