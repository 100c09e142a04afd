package nodelifecycle_test

import (
	"context"
	"testing"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kybern/kybern/controllers"
	"github.com/kybern/kybern/test/testenv"
)

var (
	env *testenv.Env
	k8s client.Client
	ctx context.Context
)

func TestNodeLifecycle(t *testing.T) { testenv.RunSuite(t, "Node lifecycle suite") }

var _ = testenv.DeclareSuite(testenv.SuiteSpec{
	// Short enough to watch a node go unreachable and its pods be evicted within a test.
	Controllers: []string{"nodelifecycle", "replicaset", "scheduler"},
	Configure: func(o *controllers.Options) {
		o.NodeMonitorGracePeriod = 3 * time.Second
		o.DefaultNotReadyTolerationSeconds, o.DefaultUnreachableTolerationSeconds = 2, 2
	},
}, func(s *testenv.Suite) {
	env, k8s, ctx = s.Env, s.Env.Client, s.Ctx
})
