package nodelifecycle_test

import (
	"context"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/kybern/kybern/controllers/nodelifecycle"
	"github.com/kybern/kybern/test/testenv"
)

var (
	env     *testenv.Env
	k8s     client.Client
	manager *testenv.Manager
	ctx     context.Context
	cancel  context.CancelFunc
)

func TestNodeLifecycle(t *testing.T) {
	RegisterFailHandler(Fail)
	SetDefaultEventuallyTimeout(30 * time.Second)
	SetDefaultEventuallyPollingInterval(100 * time.Millisecond)
	RunSpecs(t, "Node lifecycle suite")
}

var _ = BeforeSuite(func() {
	logf.SetLogger(zap.New(zap.WriteTo(GinkgoWriter), zap.UseDevMode(true)))
	ctx, cancel = context.WithCancel(context.Background())
	var err error
	env, err = testenv.Start(GinkgoT().TempDir())
	Expect(err).NotTo(HaveOccurred())
	k8s = env.Client
	Expect(env.InstallCRDs(ctx)).To(Succeed())
	Expect(k8s.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: nodelifecycle.LeaseNamespace}})).To(Succeed())
	// Short enough to watch a node go unreachable and its pods be evicted within a test.
	opts := testenv.DefaultOptions()
	opts.NodeMonitorGracePeriod = 3 * time.Second
	opts.DefaultUnreachableTolerationSeconds = 2
	manager, err = env.StartManager(opts)
	Expect(err).NotTo(HaveOccurred())
})

var _ = AfterSuite(func() {
	cancel()
	if manager != nil {
		Expect(manager.Stop()).To(Succeed())
	}
	if env != nil {
		Expect(env.Stop()).To(Succeed())
	}
})
