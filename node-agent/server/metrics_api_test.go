package server_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/types"
	statsv1alpha1 "k8s.io/kubelet/pkg/apis/stats/v1alpha1"

	"github.com/kybern/kybern/node-agent/runtime"
	"github.com/kybern/kybern/node-agent/stats"
)

var _ = Describe("The node agent's resource metrics and stats summary", func() {
	var ns string
	BeforeEach(func() {
		var err error
		ns, err = env.NewNamespace(ctx, "metrics")
		Expect(err).NotTo(HaveOccurred())
		at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
		web := runtime.PodRef{UID: types.UID("uid-" + ns), Namespace: ns, Name: "web"}
		rt.measure(stats.NodeStats{Timestamp: at, CPUUsageNanoseconds: 42e9, MemoryWorkingSetBytes: 512 << 20},
			runtime.ContainerStats{ID: "c1", Pod: web, Name: "app", StartedAt: at.Add(-time.Minute), Timestamp: at,
				CPUUsageNanoseconds: 3e9, MemoryWorkingSetBytes: 8 << 20})
	})

	It("serves the kubelet's resource metrics to callers who may get nodes/metrics", func() {
		scraper := token(ns, account(ns, "scraper", rbacv1.PolicyRule{Resources: []string{"nodes/metrics"}, Verbs: []string{"get"}}))
		code, body := get("/metrics/resource", scraper)
		Expect(code).To(Equal(http.StatusOK), body)
		parser := expfmt.NewTextParser(model.UTF8Validation)
		families, err := parser.TextToMetricFamilies(strings.NewReader(body))
		Expect(err).NotTo(HaveOccurred())
		Expect(families["node_cpu_usage_seconds_total"].Metric[0].Counter.GetValue()).To(Equal(42.0))
		Expect(families["node_memory_working_set_bytes"].Metric[0].Gauge.GetValue()).To(Equal(float64(512 << 20)))
		Expect(families["scrape_error"].Metric[0].Gauge.GetValue()).To(BeZero())
		app := families["container_cpu_usage_seconds_total"].Metric
		Expect(app).To(HaveLen(1))
		Expect(app[0].Counter.GetValue()).To(Equal(3.0))
		Expect(app[0].GetTimestampMs()).To(Equal(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC).UnixMilli()))
		labels := map[string]string{}
		for _, l := range app[0].Label {
			labels[l.GetName()] = l.GetValue()
		}
		Expect(labels).To(Equal(map[string]string{"container": "app", "pod": "web", "namespace": ns}))
		Expect(families["pod_memory_working_set_bytes"].Metric[0].Gauge.GetValue()).To(Equal(float64(8 << 20)))
	})

	It("serves the stats summary to callers who may get nodes/stats", func() {
		reader := token(ns, account(ns, "stats-reader", rbacv1.PolicyRule{Resources: []string{"nodes/stats"}, Verbs: []string{"get"}}))
		code, body := get("/stats/summary", reader)
		Expect(code).To(Equal(http.StatusOK), body)
		var sum statsv1alpha1.Summary
		Expect(json.Unmarshal([]byte(body), &sum)).To(Succeed())
		Expect(sum.Node.NodeName).To(Equal(node))
		Expect(*sum.Node.CPU.UsageCoreNanoSeconds).To(BeNumerically("==", 42e9))
		Expect(sum.Pods).To(HaveLen(1))
		Expect(sum.Pods[0].PodRef).To(Equal(statsv1alpha1.PodReference{Name: "web", Namespace: ns, UID: "uid-" + ns}))
		Expect(sum.Pods[0].Containers).To(HaveLen(1))
		Expect(*sum.Pods[0].Containers[0].Memory.WorkingSetBytes).To(BeNumerically("==", 8<<20))

		code, _ = get("/metrics/resource", reader)
		Expect(code).To(Equal(http.StatusForbidden))
	})

	It("forbids the metrics to a caller allowed only nodes/proxy", func() {
		proxy := token(ns, account(ns, "proxy-only", rbacv1.PolicyRule{Resources: []string{"nodes/proxy"}, Verbs: []string{"get"}}))
		code, body := get("/metrics/resource", proxy)
		Expect(code).To(Equal(http.StatusForbidden))
		Expect(body).To(ContainSubstring(fmt.Sprintf("user=system:serviceaccount:%s:proxy-only, verb=get, resource=nodes, subresource=metrics", ns)))
		code, _ = get("/stats/summary", proxy)
		Expect(code).To(Equal(http.StatusForbidden))
	})
})
