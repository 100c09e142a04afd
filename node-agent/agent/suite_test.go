package agent_test

import (
	"context"
	"fmt"
	goruntime "runtime"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/client-go/rest"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"

	"github.com/kybern/kybern/node-agent/agent"
	"github.com/kybern/kybern/node-agent/runtime/simulated"
	"github.com/kybern/kybern/test/testenv"
)

var (
	env *testenv.Env
	k8s client.Client
	ctx context.Context
)

// nodes are the simulated nodes the agents of this suite run, and runtimes their runtimes
// by name.
var (
	nodes    = []string{"sim-0", "sim-1"}
	runtimes = map[string]*simulated.Runtime{}
)

func TestAgent(t *testing.T) { testenv.RunSuite(t, "Node agent suite") }

var _ = testenv.DeclareSuite(testenv.SuiteSpec{
	Controllers: []string{"scheduler", "deployment", "replicaset", "garbagecollector", "nodelifecycle", "nodeauthorizer"},
}, func(s *testenv.Suite) {
	env, k8s, ctx = s.Env, s.Env.Client, s.Ctx
	cfg := rest.CopyConfig(env.Config)
	cfg.QPS, cfg.Burst = -1, 0
	httpClient, err := rest.HTTPClientFor(cfg)
	Expect(err).NotTo(HaveOccurred())
	mapper, err := apiutil.NewDynamicRESTMapper(cfg, httpClient)
	Expect(err).NotTo(HaveOccurred())
	shared := agent.Shared{Rest: cfg, HTTP: httpClient, Mapper: mapper, Scheme: k8s.Scheme(), Clock: clock.RealClock{},
		Log: ctrl.Log.WithName("node-agent")}
	startAgents(shared, GinkgoT().TempDir())
})

// startAgents runs one agent per name in nodes, each on its own simulated runtime, until
// the suite's context ends.
func startAgents(shared agent.Shared, logDir string) {
	capacity := corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("8"), corev1.ResourceMemory: resource.MustParse("16Gi"),
		corev1.ResourcePods: resource.MustParse("110")}
	for _, name := range nodes {
		rt := simulated.New(clock.RealClock{}, 50*time.Millisecond)
		runtimes[name] = rt
		a, err := agent.New(shared, agent.Config{NodeName: name, Arch: goruntime.GOARCH, Capacity: capacity, Address: "127.0.0.1",
			NodeInfo: corev1.NodeSystemInfo{KernelVersion: "6.1.0", ContainerRuntimeVersion: "simulated://1.0", KubeletVersion: "test"},
			LogDir:   fmt.Sprintf("%s/%s/logs", logDir, name), PodDir: fmt.Sprintf("%s/%s/pods", logDir, name), RuntimeName: "simulated"}, rt)
		Expect(err).NotTo(HaveOccurred())
		go func() {
			defer GinkgoRecover()
			Expect(a.Run(ctx)).To(Succeed())
		}()
	}
}
