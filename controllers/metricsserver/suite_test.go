package metricsserver_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/onsi/ginkgo/v2"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kybern/kybern/controllers"
	"github.com/kybern/kybern/controllers/internal/servingcert"
	"github.com/kybern/kybern/test/testenv"
)

var (
	env   *testenv.Env
	suite *testenv.Suite
	k8s   client.Client
	ctx   context.Context
	agent *fakeAgent
)

func TestMetricsServer(t *testing.T) { testenv.RunSuite(t, "Metrics server suite") }

var _ = testenv.DeclareSuite(testenv.SuiteSpec{
	Controllers: []string{"metrics-server"},
	Prepare: func(context.Context, *testenv.Env) error {
		var err error
		agent, err = startFakeAgent(ginkgo.GinkgoT().TempDir())
		return err
	},
	Configure: func(o *controllers.Options) {
		addr, err := testenv.FreeLoopbackAddr()
		if err != nil {
			panic(err)
		}
		o.MetricsServer.BindAddress, o.MetricsServer.KubeletCAFile, o.MetricsServer.Resolution = addr, agent.caFile, time.Second
	},
}, func(s *testenv.Suite) {
	suite, env, k8s, ctx = s, s.Env, s.Env.Client, s.Ctx
})

// fakeAgent plays a node agent's /metrics/resource: one pod, ns/web, whose container c
// uses cpuMillis of CPU from start, and the node, which uses twice that.
type fakeAgent struct {
	caFile    string
	port      int
	start     time.Time
	namespace atomic.Value
	cpuMillis atomic.Int64
}

func startFakeAgent(dir string) (*fakeAgent, error) {
	caPEM, certPEM, keyPEM, err := servingcert.SelfSigned("fake-agent-ca", []string{"127.0.0.1"}, time.Now())
	if err != nil {
		return nil, err
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, err
	}
	a := &fakeAgent{caFile: filepath.Join(dir, "fake-agent-ca.crt"), start: time.Now().Add(-time.Hour)}
	a.namespace.Store("")
	if err := os.WriteFile(a.caFile, caPEM, 0o600); err != nil {
		return nil, err
	}
	l, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12})
	if err != nil {
		return nil, err
	}
	a.port = l.Addr().(*net.TCPAddr).Port
	mux := http.NewServeMux()
	mux.HandleFunc("GET /metrics/resource", a.serve)
	go func() { _ = http.Serve(l, mux) }()
	return a, nil
}

func (a *fakeAgent) serve(w http.ResponseWriter, _ *http.Request) {
	now := time.Now()
	used := time.Duration(a.cpuMillis.Load()) * now.Sub(a.start) / 1000
	ts := now.UnixMilli()
	ns := a.namespace.Load().(string)
	_, _ = fmt.Fprintf(w, "# TYPE node_cpu_usage_seconds_total counter\nnode_cpu_usage_seconds_total %f %d\n", 2*used.Seconds(), ts)
	_, _ = fmt.Fprintf(w, "# TYPE node_memory_working_set_bytes gauge\nnode_memory_working_set_bytes %d %d\n", 64<<20, ts)
	if ns == "" {
		return
	}
	labels := fmt.Sprintf(`{container="c",namespace=%q,pod="web"}`, ns)
	_, _ = fmt.Fprintf(w, "# TYPE container_cpu_usage_seconds_total counter\ncontainer_cpu_usage_seconds_total%s %f %d\n", labels, used.Seconds(), ts)
	_, _ = fmt.Fprintf(w, "# TYPE container_memory_working_set_bytes gauge\ncontainer_memory_working_set_bytes%s %d %d\n", labels, 8<<20, ts)
	_, _ = fmt.Fprintf(w, "# TYPE container_start_time_seconds gauge\ncontainer_start_time_seconds%s %d %d\n", labels, a.start.Unix(), ts)
}
