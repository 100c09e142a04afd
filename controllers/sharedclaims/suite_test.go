package sharedclaims_test

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

func TestSharedClaims(t *testing.T) { testenv.RunSuite(t, "Shared-directory provisioner suite") }

var _ = testenv.DeclareSuite(testenv.SuiteSpec{Controllers: []string{"shared-directory-provisioner"}}, func(s *testenv.Suite) {
	env, k8s, ctx = s.Env, s.Env.Client, s.Ctx
})
