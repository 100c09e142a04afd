package garbagecollector_test

import (
	"context"
	"testing"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kybern/kybern/test/testenv"
)

var (
	suite *testenv.Suite
	env   *testenv.Env
	k8s   client.Client
	ctx   context.Context
)

func TestGarbageCollector(t *testing.T) { testenv.RunSuite(t, "Garbage collector suite") }

var _ = testenv.DeclareSuite(testenv.SuiteSpec{
	Controllers: []string{"garbagecollector", "deployment", "replicaset"},
}, func(s *testenv.Suite) {
	suite, env, k8s, ctx = s, s.Env, s.Env.Client, s.Ctx
})
