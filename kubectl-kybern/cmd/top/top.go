// Package top is kubectl top for kybern's pods and nodes: their CPU and memory usage, read
// from the metrics API the manager serves (metrics.kybern.io, metrics.k8s.io's objects).
package top

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"sort"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/cli-runtime/pkg/printers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/kubectl/pkg/util/templates"
	metricsv1beta1 "k8s.io/metrics/pkg/apis/metrics/v1beta1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
	"github.com/kybern/kybern/kubectl-kybern/cmd/cli"
)

// The metrics API the manager serves, and its root.
const (
	groupVersion = "metrics.kybern.io/v1beta1"
	apiPath      = "/apis/" + groupVersion
)

// ErrNoMetrics is the answer of a cluster whose manager serves no metrics API.
var ErrNoMetrics = errors.New("metrics API not available: the apiserver serves no metrics.kybern.io/v1beta1 (kubectl get apiservice v1beta1.metrics.kybern.io); the manager serves it with --metrics-api-bind-address, as make run and the Helm chart set it")

type options struct {
	selector      string
	allNamespaces bool
	containers    bool
	noHeaders     bool
	sortBy        string
}

// NewCmdTop is kubectl top's command line: top pod and top node.
func NewCmdTop(f *cli.Factory, streams genericiooptions.IOStreams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "top (node | pod)",
		Short: "Display resource (CPU/memory) usage",
		Long: templates.LongDesc(`
			Display the CPU and memory usage of kybern's nodes and pods, which the manager's
			metrics server scrapes from the node agents every --metric-resolution (15s).`),
	}
	o := &options{}
	pod := &cobra.Command{
		Use: "pod [NAME | -l label]", Aliases: []string{"pods", "po"},
		Short: "Display resource (CPU/memory) usage of pods",
		Example: templates.Examples(`
			kubectl kybern top pod
			kubectl kybern top pod -A --sort-by=cpu
			kubectl kybern top pod web-0 --containers`),
		Args:              cobra.MaximumNArgs(1),
		ValidArgsFunction: cli.CompleteNames(f, cli.Pod),
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.pods(cmd.Context(), f, streams.Out, args)
		},
	}
	pod.Flags().BoolVarP(&o.allNamespaces, "all-namespaces", "A", false, "List the pods of every namespace.")
	pod.Flags().BoolVar(&o.containers, "containers", false, "Print the usage of each container.")
	node := &cobra.Command{
		Use: "node [NAME | -l label]", Aliases: []string{"nodes", "no"},
		Short: "Display resource (CPU/memory) usage of nodes",
		Example: templates.Examples(`
			kubectl kybern top node
			kubectl kybern top node sim-0`),
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.nodes(cmd.Context(), f, streams.Out, args)
		},
	}
	for _, c := range []*cobra.Command{pod, node} {
		c.Flags().StringVarP(&o.selector, "selector", "l", "", "Label selector to filter on, such as -l key=value.")
		c.Flags().BoolVar(&o.noHeaders, "no-headers", false, "Print no header line.")
		c.Flags().StringVar(&o.sortBy, "sort-by", "", "Sort by cpu or memory.")
		cmd.AddCommand(c)
	}
	return cmd
}

func (o *options) validate() error {
	if o.sortBy != "" && o.sortBy != "cpu" && o.sortBy != "memory" {
		return fmt.Errorf("--sort-by=%s: choose cpu or memory", o.sortBy)
	}
	if _, err := labels.Parse(o.selector); err != nil {
		return fmt.Errorf("--selector=%s: %w", o.selector, err)
	}
	return nil
}

// row is one line of output: a pod, a container or a node.
type row struct {
	cells       []string
	cpu, memory resource.Quantity
}

func (o *options) pods(ctx context.Context, f *cli.Factory, out io.Writer, args []string) error {
	if err := o.validate(); err != nil {
		return err
	}
	ns, _, err := f.Namespace()
	if err != nil {
		return err
	}
	path := apiPath + "/namespaces/" + url.PathEscape(ns) + "/pods"
	if o.allNamespaces {
		path = apiPath + "/pods"
	}
	var items []metricsv1beta1.PodMetrics
	if len(args) == 1 {
		var m metricsv1beta1.PodMetrics
		if err := get(ctx, f, path+"/"+url.PathEscape(args[0]), nil, &m); err != nil {
			return err
		}
		items = []metricsv1beta1.PodMetrics{m}
	} else {
		var list metricsv1beta1.PodMetricsList
		if err := get(ctx, f, path, url.Values{"labelSelector": {o.selector}}, &list); err != nil {
			return err
		}
		items = list.Items
		if len(items) == 0 {
			return errors.New("no resources found: no pod has usage yet (a pod's first usage comes one scrape, 15s by default, after it starts)")
		}
	}
	header := []string{"NAME", "CPU(cores)", "MEMORY(bytes)"}
	if o.containers {
		header = []string{"POD", "NAME", "CPU(cores)", "MEMORY(bytes)"}
	}
	if o.allNamespaces {
		header = append([]string{"NAMESPACE"}, header...)
	}
	var rows []row
	for _, m := range items {
		var lead []string
		if o.allNamespaces {
			lead = []string{m.Namespace}
		}
		if o.containers {
			for _, c := range m.Containers {
				cpu, mem := c.Usage[corev1.ResourceCPU], c.Usage[corev1.ResourceMemory]
				rows = append(rows, row{cells: append(append([]string{}, lead...), m.Name, c.Name, cores(cpu), mebibytes(mem)), cpu: cpu, memory: mem})
			}
			continue
		}
		var cpu, mem resource.Quantity
		for _, c := range m.Containers {
			cpu.Add(c.Usage[corev1.ResourceCPU])
			mem.Add(c.Usage[corev1.ResourceMemory])
		}
		rows = append(rows, row{cells: append(lead, m.Name, cores(cpu), mebibytes(mem)), cpu: cpu, memory: mem})
	}
	return o.print(out, header, rows)
}

func (o *options) nodes(ctx context.Context, f *cli.Factory, out io.Writer, args []string) error {
	if err := o.validate(); err != nil {
		return err
	}
	var items []metricsv1beta1.NodeMetrics
	if len(args) == 1 {
		var m metricsv1beta1.NodeMetrics
		if err := get(ctx, f, apiPath+"/nodes/"+url.PathEscape(args[0]), nil, &m); err != nil {
			return err
		}
		items = []metricsv1beta1.NodeMetrics{m}
	} else {
		var list metricsv1beta1.NodeMetricsList
		if err := get(ctx, f, apiPath+"/nodes", url.Values{"labelSelector": {o.selector}}, &list); err != nil {
			return err
		}
		items = list.Items
	}
	c, err := f.Client()
	if err != nil {
		return err
	}
	var rows []row
	for _, m := range items {
		cpu, mem := m.Usage[corev1.ResourceCPU], m.Usage[corev1.ResourceMemory]
		cpuPct, memPct := "<unknown>", "<unknown>"
		n := &corev1alpha1.Node{}
		if err := c.Get(ctx, client.ObjectKey{Name: m.Name}, n); err == nil {
			cpuPct, memPct = percent(cpu, n.Status.Allocatable[corev1.ResourceCPU], true), percent(mem, n.Status.Allocatable[corev1.ResourceMemory], false)
		}
		rows = append(rows, row{cells: []string{m.Name, cores(cpu), cpuPct, mebibytes(mem), memPct}, cpu: cpu, memory: mem})
	}
	return o.print(out, []string{"NAME", "CPU(cores)", "CPU(%)", "MEMORY(bytes)", "MEMORY(%)"}, rows)
}

func (o *options) print(out io.Writer, header []string, rows []row) error {
	switch o.sortBy {
	case "cpu":
		sort.SliceStable(rows, func(i, j int) bool { return rows[i].cpu.Cmp(rows[j].cpu) > 0 })
	case "memory":
		sort.SliceStable(rows, func(i, j int) bool { return rows[i].memory.Cmp(rows[j].memory) > 0 })
	}
	w := printers.GetNewTabWriter(out)
	if !o.noHeaders {
		writeLine(w, header)
	}
	for _, r := range rows {
		writeLine(w, r.cells)
	}
	return w.Flush()
}

func writeLine(w io.Writer, cells []string) {
	for i, c := range cells {
		if i > 0 {
			_, _ = io.WriteString(w, "\t")
		}
		_, _ = io.WriteString(w, c)
	}
	_, _ = io.WriteString(w, "\n")
}

// cores and mebibytes print usage as kubectl top does.
func cores(q resource.Quantity) string { return fmt.Sprintf("%dm", q.MilliValue()) }

func mebibytes(q resource.Quantity) string { return fmt.Sprintf("%dMi", q.Value()/(1<<20)) }

func percent(used, allocatable resource.Quantity, milli bool) string {
	u, a := used.Value(), allocatable.Value()
	if milli {
		u, a = used.MilliValue(), allocatable.MilliValue()
	}
	if a == 0 {
		return "<unknown>"
	}
	return fmt.Sprintf("%d%%", u*100/a)
}

// get reads path of the metrics API into into; a group the apiserver does not serve is
// ErrNoMetrics.
func get(ctx context.Context, f *cli.Factory, path string, query url.Values, into any) error {
	cfg, err := f.RESTConfig()
	if err != nil {
		return err
	}
	clientset, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	req := clientset.Discovery().RESTClient().Get().AbsPath(path)
	for k, vs := range query {
		for _, v := range vs {
			if v != "" {
				req = req.Param(k, v)
			}
		}
	}
	raw, err := req.DoRaw(ctx)
	switch {
	case apierrors.IsNotFound(err):
		// A pod or node without usage, or no metrics API at all: discovery tells which.
		if _, derr := clientset.Discovery().ServerResourcesForGroupVersion(groupVersion); apierrors.IsNotFound(derr) {
			return ErrNoMetrics
		}
		return err
	case apierrors.IsServiceUnavailable(err):
		return fmt.Errorf("%w: %w", ErrNoMetrics, err)
	case err != nil:
		return err
	}
	return json.Unmarshal(raw, into)
}
