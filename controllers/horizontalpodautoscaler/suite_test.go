package horizontalpodautoscaler_test

import (
	"context"
	"sync"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	metricsv1beta1 "k8s.io/metrics/pkg/apis/metrics/v1beta1"
	"k8s.io/utils/clock"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/kybern/kybern/api"
	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
	"github.com/kybern/kybern/controllers/horizontalpodautoscaler"
	"github.com/kybern/kybern/controllers/internal/resourcemetrics"
	"github.com/kybern/kybern/controllers/internal/setup"
	"github.com/kybern/kybern/test/testenv"
)

// syncPeriod is the autoscaler's sync period in the suite, short so that specs take
// seconds.
const syncPeriod = time.Second

var (
	env *testenv.Env
	k8s client.Client
	ctx context.Context
	// usage is what the metrics server would know, filled by each spec's node.
	usage = resourcemetrics.NewStore()
)

func TestHorizontalPodAutoscaler(t *testing.T) {
	testenv.RunSuite(t, "HorizontalPodAutoscaler controller suite")
}

// The registry's manager runs the workload controllers; the autoscaler, not in the
// registry, runs in a manager of the suite's own, fed by usage.
var _ = testenv.DeclareSuite(testenv.SuiteSpec{Controllers: []string{"deployment", "replicaset"}}, func(s *testenv.Suite) {
	env, k8s, ctx = s.Env, s.Env.Client, s.Ctx
	scheme := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(scheme))
	utilruntime.Must(api.AddToScheme(scheme))
	mgr, err := ctrl.NewManager(env.Config, ctrl.Options{
		Scheme: scheme, Metrics: metricsserver.Options{BindAddress: "0"}, HealthProbeBindAddress: "0",
		Controller: config.Controller{SkipNameValidation: ptr.To(true)},
	})
	Expect(err).NotTo(HaveOccurred())
	Expect(horizontalpodautoscaler.SetupWithManager(ctx, mgr, setup.Config{
		Settings: setup.Settings{HorizontalPodAutoscaler: setup.HPASettings{
			SyncPeriod: syncPeriod, Tolerance: 0.1, DownscaleStabilization: 5 * time.Minute,
			CPUInitializationPeriod: 5 * time.Minute, InitialReadinessDelay: 30 * time.Second,
		}},
		Recorder:        mgr.GetEventRecorderFor("horizontal-pod-autoscaler"), //nolint:staticcheck // The registry's recorder, as controllers/setup.go explains.
		Clock:           clock.RealClock{},
		ResourceMetrics: usage,
	})).To(Succeed())
	// Suite.Stop cancels ctx before it stops the control plane; the cleanup waits.
	mgrCtx, cancel := context.WithCancel(ctx)
	var done sync.WaitGroup
	var startErr error
	done.Go(func() { startErr = mgr.Start(mgrCtx) })
	DeferCleanup(func() {
		cancel()
		done.Wait()
		Expect(startErr).NotTo(HaveOccurred())
	})
})

// node plays the node agents and the metrics server for one namespace: each pod it sees
// becomes Running and Ready as if started 10 minutes ago (past the CPU initialization
// period), and the Running pods then share load millicores of CPU evenly, as the replicas
// of a service share its requests; they report no samples while load is negative.
type node struct {
	ns   string
	mu   sync.Mutex
	load int64
	stop context.CancelFunc
	done sync.WaitGroup
}

func startNode(ns string, load int64) *node {
	c, stop := context.WithCancel(ctx)
	n := &node{ns: ns, load: load, stop: stop}
	n.done.Go(func() {
		for c.Err() == nil {
			n.round(c)
			time.Sleep(50 * time.Millisecond)
		}
	})
	DeferCleanup(n.Stop)
	return n
}

// setLoad changes the load from the next round on.
func (n *node) setLoad(load int64) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.load = load
}

func (n *node) round(c context.Context) {
	var pods corev1alpha1.PodList
	if err := k8s.List(c, &pods, client.InNamespace(n.ns)); err != nil {
		return
	}
	n.mu.Lock()
	load := n.load
	n.mu.Unlock()
	started := metav1.NewTime(time.Now().Add(-10 * time.Minute))
	var serving []*corev1alpha1.Pod
	for i := range pods.Items {
		p := &pods.Items[i]
		switch {
		case p.DeletionTimestamp != nil:
		case p.Status.Phase == corev1.PodRunning:
			serving = append(serving, p)
		case p.Status.Phase == "":
			orig := p.DeepCopy()
			p.Status.Phase, p.Status.StartTime = corev1.PodRunning, &started
			p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: started}}
			// A pod that changed meanwhile is taken up in the next round.
			_ = k8s.Status().Patch(c, p, client.MergeFromWithOptions(orig, client.MergeFromWithOptimisticLock{}))
		}
	}
	var samples []metricsv1beta1.PodMetrics
	for _, p := range serving {
		if load < 0 {
			break
		}
		m := metricsv1beta1.PodMetrics{ObjectMeta: metav1.ObjectMeta{Namespace: p.Namespace, Name: p.Name},
			Timestamp: metav1.Now(), Window: metav1.Duration{Duration: 15 * time.Second}}
		for _, ctr := range p.Spec.Containers {
			share := load / int64(len(serving)*len(p.Spec.Containers))
			m.Containers = append(m.Containers, metricsv1beta1.ContainerMetrics{Name: ctr.Name,
				Usage: corev1.ResourceList{corev1.ResourceCPU: *resource.NewMilliQuantity(share, resource.DecimalSI)}})
		}
		samples = append(samples, m)
	}
	usage.SetNode(n.ns, nil, samples)
}

// Stop ends the node; its pods' samples are forgotten.
func (n *node) Stop() {
	n.stop()
	n.done.Wait()
	usage.ForgetNode(n.ns)
}
