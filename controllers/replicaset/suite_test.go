package replicaset_test

import (
	"context"
	"testing"
	"time"

	. "github.com/onsi/gomega"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
	"github.com/kybern/kybern/test/testenv"
)

var (
	suite *testenv.Suite
	env   *testenv.Env
	k8s   client.Client
	ctx   context.Context
)

func TestReplicaSet(t *testing.T) { testenv.RunSuite(t, "ReplicaSet controller suite") }

var _ = testenv.DeclareSuite(testenv.SuiteSpec{
	Controllers: []string{"replicaset", "garbagecollector"},
}, func(s *testenv.Suite) {
	suite, env, k8s, ctx = s, s.Env, s.Env.Client, s.Ctx
})

func newNamespace() string {
	ns, err := env.NewNamespace(ctx, "rs-test")
	ExpectWithOffset(1, err).NotTo(HaveOccurred())
	return ns
}

// markReady plays the node agent: the pod runs on a node and is Ready since readySince.
func markReady(p *corev1alpha1.Pod, readySince time.Time) {
	orig := p.DeepCopy()
	p.Status.Phase = corev1.PodRunning
	p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: metav1.NewTime(readySince)}}
	ExpectWithOffset(1, k8s.Status().Patch(ctx, p, client.MergeFrom(orig))).To(Succeed())
}
