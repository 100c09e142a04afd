package metricsserver

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	metricsv1beta1 "k8s.io/metrics/pkg/apis/metrics/v1beta1"
)

// The tables kubectl get prints: metrics-server's columns.
var (
	nodeColumns = []metav1.TableColumnDefinition{
		{Name: "Name", Type: "string", Format: "name", Description: "Name of the node"},
		{Name: "CPU", Type: "string", Description: "Usage of CPU, in cores"},
		{Name: "Memory", Type: "string", Description: "Working set of memory, in bytes"},
		{Name: "Window", Type: "string", Description: "Window over which the CPU usage was measured"},
	}
	podColumns = []metav1.TableColumnDefinition{
		{Name: "Name", Type: "string", Format: "name", Description: "Name of the pod"},
		{Name: "CPU", Type: "string", Description: "Usage of CPU of all the pod's containers, in cores"},
		{Name: "Memory", Type: "string", Description: "Working set of memory of all the pod's containers, in bytes"},
		{Name: "Window", Type: "string", Description: "Window over which the CPU usage was measured"},
	}
)

func nodeTable(items []metricsv1beta1.NodeMetrics) *metav1.Table {
	t := &metav1.Table{TypeMeta: metav1.TypeMeta{Kind: "Table", APIVersion: "meta.k8s.io/v1"}, ColumnDefinitions: nodeColumns}
	for i := range items {
		m := &items[i]
		cpu, mem := m.Usage[corev1.ResourceCPU], m.Usage[corev1.ResourceMemory]
		t.Rows = append(t.Rows, metav1.TableRow{Cells: []any{m.Name, cpu.String(), mem.String(), windowString(m.Window.Duration)},
			Object: runtime.RawExtension{Object: m}})
	}
	return t
}

func podTable(items []metricsv1beta1.PodMetrics) *metav1.Table {
	t := &metav1.Table{TypeMeta: metav1.TypeMeta{Kind: "Table", APIVersion: "meta.k8s.io/v1"}, ColumnDefinitions: podColumns}
	for i := range items {
		m := &items[i]
		cpu, mem := PodUsage(m)
		t.Rows = append(t.Rows, metav1.TableRow{Cells: []any{m.Name, cpu.String(), mem.String(), windowString(m.Window.Duration)},
			Object: runtime.RawExtension{Object: m}})
	}
	return t
}

// PodUsage sums a pod's containers' CPU and memory.
func PodUsage(m *metricsv1beta1.PodMetrics) (cpu, memory resource.Quantity) {
	for _, c := range m.Containers {
		cpu.Add(c.Usage[corev1.ResourceCPU])
		memory.Add(c.Usage[corev1.ResourceMemory])
	}
	return cpu, memory
}
