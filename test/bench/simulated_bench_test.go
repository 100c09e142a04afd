package bench

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	goruntime "runtime"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"k8s.io/utils/clock"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"

	appsv1alpha1 "github.com/kybern/kybern/api/apps/v1alpha1"
	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
	"github.com/kybern/kybern/node-agent/agent"
	"github.com/kybern/kybern/node-agent/runtime/simulated"
	"github.com/kybern/kybern/test/testenv"
)

// BenchmarkDeployment1000On100SimulatedNodes runs 100 simulated node agents in this
// process beside the manager and creates a 1000-replica Deployment. It reports the
// seconds until all 1000 pods are bound (the baseline: the control plane alone) and until
// the Deployment has 1000 available replicas, which adds the agents' work: a finalizer
// and status writes per pod.
func BenchmarkDeployment1000On100SimulatedNodes(b *testing.B) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	env := startEnv(b)
	var managerRequests, agentRequests atomic.Int64
	mgrCfg := rest.CopyConfig(env.Config)
	mgrCfg.Wrap(func(rt http.RoundTripper) http.RoundTripper {
		return countingTransport{next: rt, count: &managerRequests}
	})
	mgr, err := env.StartManagerWithConfig(mgrCfg, testenv.DefaultOptions())
	if err != nil {
		b.Fatal(err)
	}
	defer stopping(b, mgr.Stop)
	if err := startSimulatedNodes(ctx, env, 100, b.TempDir(), &agentRequests); err != nil {
		b.Fatal(err)
	}
	watcher, err := client.NewWithWatch(env.Config, client.Options{Scheme: env.Client.Scheme()})
	if err != nil {
		b.Fatal(err)
	}
	for range b.N {
		ns, err := env.NewNamespace(ctx, "sim")
		if err != nil {
			b.Fatal(err)
		}
		d := &appsv1alpha1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "web"}}
		d.Spec.Replicas = ptr.To[int32](1000)
		d.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}
		d.Spec.Template.Labels = map[string]string{"app": "web"}
		d.Spec.Template.Spec.Containers = []corev1.Container{{Name: "web", Image: "busybox", Command: []string{"httpd", "-f"}}}
		b.ResetTimer()
		managerBefore, agentsBefore := managerRequests.Load(), agentRequests.Load()
		start := time.Now()
		if err := env.Client.Create(ctx, d); err != nil {
			b.Fatal(err)
		}
		if err := waitPods(ctx, watcher, ns, 1000, 5*time.Minute, func(p *corev1alpha1.Pod) bool { return p.Spec.NodeName != "" }); err != nil {
			b.Fatal(err)
		}
		bound := time.Since(start)
		deadline := time.Now().Add(5 * time.Minute)
		for {
			if err := env.Client.Get(ctx, client.ObjectKeyFromObject(d), d); err != nil {
				b.Fatal(err)
			}
			if d.Status.AvailableReplicas == 1000 {
				break
			}
			if time.Now().After(deadline) {
				b.Fatalf("%d of 1000 replicas available after 5 minutes", d.Status.AvailableReplicas)
			}
			time.Sleep(50 * time.Millisecond)
		}
		available := time.Since(start)
		b.StopTimer()
		b.ReportMetric(bound.Seconds(), "s-bound")
		b.ReportMetric(available.Seconds(), "s-available")
		b.ReportMetric(available.Seconds()/bound.Seconds(), "available-x-bound")
		b.ReportMetric(float64(managerRequests.Load()-managerBefore), "manager-requests")
		b.ReportMetric(float64(agentRequests.Load()-agentsBefore), "agent-requests")
	}
}

// startSimulatedNodes runs n simulated node agents, keeping their pods' logs and volumes under dir,
// until ctx ends, counting their API requests in requests, and waits until the scheduler
// can see them all Ready.
func startSimulatedNodes(ctx context.Context, env *testenv.Env, n int, dir string, requests *atomic.Int64) error {
	shared, err := simulatedShared(env, requests)
	if err != nil {
		return err
	}
	for i := range n {
		a, err := agent.New(shared, agent.Config{NodeName: fmt.Sprintf("sim-%03d", i), Arch: goruntime.GOARCH, Capacity: simulatedCapacity,
			Address: "127.0.0.1", RuntimeName: "simulated", LogDir: filepath.Join(dir, "logs"), PodDir: filepath.Join(dir, "pods")}, simulated.New(clock.RealClock{}, 50*time.Millisecond))
		if err != nil {
			return err
		}
		go func() { _ = a.Run(ctx) }()
	}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		var nodes corev1alpha1.NodeList
		if err := env.Client.List(ctx, &nodes); err != nil {
			return err
		}
		ready := 0
		for _, node := range nodes.Items {
			for _, c := range node.Status.Conditions {
				if c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue {
					ready++
				}
			}
		}
		if ready == n {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d of %d simulated nodes Ready after 2 minutes", ready, n)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// simulatedCapacity is every simulated node's.
var simulatedCapacity = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("32"), corev1.ResourceMemory: resource.MustParse("64Gi"),
	corev1.ResourcePods: resource.MustParse("110")}

// simulatedShared is what simulated node agents in this process share: env's admin
// credential without client-side rate limits, counting its requests in requests when not nil.
func simulatedShared(env *testenv.Env, requests *atomic.Int64) (agent.Shared, error) {
	cfg := rest.CopyConfig(env.Config)
	cfg.QPS, cfg.Burst = -1, 0
	if requests != nil {
		cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper { return countingTransport{next: rt, count: requests} })
	}
	httpClient, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return agent.Shared{}, err
	}
	mapper, err := apiutil.NewDynamicRESTMapper(cfg, httpClient)
	if err != nil {
		return agent.Shared{}, err
	}
	return agent.Shared{Rest: cfg, HTTP: httpClient, Mapper: mapper, Scheme: env.Client.Scheme(), Clock: clock.RealClock{},
		Log: ctrl.Log.WithName("node-agent")}, nil
}
