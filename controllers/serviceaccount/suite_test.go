package serviceaccount_test

import (
	"context"
	"testing"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kybern/kybern/test/testenv"
)

var (
	env *testenv.Env
	k8s client.Client
	ctx context.Context
)

func TestServiceAccount(t *testing.T) { testenv.RunSuite(t, "Service account suite") }

var _ = testenv.DeclareSuite(testenv.SuiteSpec{Controllers: []string{"serviceaccount", "root-ca-cert-publisher"}}, func(s *testenv.Suite) {
	env, k8s, ctx = s.Env, s.Env.Client, s.Ctx
})
