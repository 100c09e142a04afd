package podgc_test

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

func TestPodGC(t *testing.T) { testenv.RunSuite(t, "Pod garbage collector suite") }

// threshold is small, so that a spec can go past it.
const threshold = 3

var _ = testenv.DeclareSuite(testenv.SuiteSpec{
	Controllers: []string{"pod-garbage-collector"},
	Configure: func(o *controllers.Options) {
		o.TerminatedPodGCThreshold = threshold
		o.PodGCPeriod, o.PodGCQuarantine = 100*time.Millisecond, time.Second
	},
}, func(s *testenv.Suite) {
	env, k8s, ctx = s.Env, s.Env.Client, s.Ctx
})
