package bench

import (
	"context"
	"crypto/tls"
	"net"
	"os"
	"path/filepath"
	goruntime "runtime"
	"testing"
	"time"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/cert"
	"k8s.io/utils/clock"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	appsv1alpha1 "github.com/kybern/kybern/api/apps/v1alpha1"
	autoscalingv1alpha1 "github.com/kybern/kybern/api/autoscaling/v1alpha1"
	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
	"github.com/kybern/kybern/node-agent/agent"
	"github.com/kybern/kybern/node-agent/runtime/simulated"
	"github.com/kybern/kybern/node-agent/server"
	"github.com/kybern/kybern/test/testenv"
)

// BenchmarkAutoscaleUpOnSimulatedLoad creates a 1-replica Deployment whose pod burns two
// cores against a 200m request (the simulated runtime's burn model) and an autoscaler
// holding it at 50 % CPU, on one simulated node agent that serves its resource metrics
// over its API, and reports the seconds until the scaled-up replicas are Running, beside
// what that time is bound by at the default flags: one --metric-resolution (15 s) for
// the usage to be scraped, plus one --horizontal-pod-autoscaler-sync-period (15 s).
func BenchmarkAutoscaleUpOnSimulatedLoad(b *testing.B) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	env := startEnv(b)
	caFile := startSimulatedNodeWithAPI(ctx, b, env, "sim-hpa")
	opts := testenv.DefaultOptions()
	opts.MetricsServer.KubeletCAFile = caFile
	bound := opts.MetricsServer.Resolution + opts.HorizontalPodAutoscaler.SyncPeriod
	mgr, err := env.StartManager(opts)
	if err != nil {
		b.Fatal(err)
	}
	defer stopping(b, mgr.Stop)
	watcher, err := client.NewWithWatch(env.Config, client.Options{Scheme: env.Client.Scheme()})
	if err != nil {
		b.Fatal(err)
	}
	for range b.N {
		ns, err := env.NewNamespace(ctx, "hpa")
		if err != nil {
			b.Fatal(err)
		}
		d := &appsv1alpha1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "burn"}}
		d.Spec.Replicas = ptr.To[int32](1)
		d.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"app": "burn"}}
		d.Spec.Template.Labels = map[string]string{"app": "burn"}
		d.Spec.Template.Spec.Containers = []corev1.Container{{Name: "burn", Image: "busybox", Command: []string{"burn", "2"},
			Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("200m")}}}}
		hpa := &autoscalingv1alpha1.HorizontalPodAutoscaler{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "burn"}}
		hpa.Spec = autoscalingv2.HorizontalPodAutoscalerSpec{
			ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{APIVersion: appsv1alpha1.GroupVersion.String(), Kind: "Deployment", Name: "burn"},
			MinReplicas:    ptr.To[int32](1), MaxReplicas: 5,
			Metrics: []autoscalingv2.MetricSpec{{Type: autoscalingv2.ResourceMetricSourceType, Resource: &autoscalingv2.ResourceMetricSource{
				Name: corev1.ResourceCPU, Target: autoscalingv2.MetricTarget{Type: autoscalingv2.UtilizationMetricType, AverageUtilization: ptr.To[int32](50)}}}},
		}
		b.ResetTimer()
		start := time.Now()
		if err := env.Client.Create(ctx, d); err != nil {
			b.Fatal(err)
		}
		if err := env.Client.Create(ctx, hpa); err != nil {
			b.Fatal(err)
		}
		// Upstream's default scale-up policy allows at most 4 new pods per step: 1 → 5.
		if err := waitPods(ctx, watcher, ns, 5, 3*time.Minute, func(p *corev1alpha1.Pod) bool { return p.Status.Phase == corev1.PodRunning }); err != nil {
			b.Fatal(err)
		}
		running := time.Since(start)
		b.StopTimer()
		b.ReportMetric(running.Seconds(), "s-to-5-running")
		b.ReportMetric(bound.Seconds(), "s-bound")
		b.ReportMetric(running.Seconds()/bound.Seconds(), "running-x-bound")
	}
}

// startSimulatedNodeWithAPI runs a simulated node agent called node until ctx ends,
// serving its API (resource metrics among it) on a free loopback port with a self-signed
// certificate, whose file it returns for the metrics server to verify it with.
func startSimulatedNodeWithAPI(ctx context.Context, b *testing.B, env *testenv.Env, node string) string {
	b.Helper()
	shared, err := simulatedShared(env, nil)
	if err != nil {
		b.Fatal(err)
	}
	certPEM, keyPEM, err := cert.GenerateSelfSignedCertKey("127.0.0.1", []net.IP{net.ParseIP("127.0.0.1")}, nil)
	if err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	caFile := filepath.Join(dir, "agent-ca.crt")
	if err := os.WriteFile(caFile, certPEM, 0o600); err != nil {
		b.Fatal(err)
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		b.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	rt := simulated.New(clock.RealClock{}, 50*time.Millisecond)
	a, err := agent.New(shared, agent.Config{NodeName: node, Arch: goruntime.GOARCH, Capacity: simulatedCapacity, Address: "127.0.0.1", RuntimeName: "simulated",
		LogDir: filepath.Join(dir, "logs"), PodDir: filepath.Join(dir, "pods"), APIPort: int32(l.Addr().(*net.TCPAddr).Port)}, rt)
	if err != nil {
		b.Fatal(err)
	}
	go func() { _ = a.Run(ctx) }()
	clientset, err := kubernetes.NewForConfigAndClient(shared.Rest, shared.HTTP)
	if err != nil {
		b.Fatal(err)
	}
	auth, err := server.NewAuth(ctx, clientset, node, "")
	if err != nil {
		b.Fatal(err)
	}
	s := &server.Server{Node: node, Runtime: rt, NodeStats: rt, Pods: env.Client, LogDir: filepath.Join(dir, "logs"), Auth: auth, Log: ctrl.Log.WithName("api")}
	go func() {
		_ = s.Serve(ctx, l, func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return &pair, nil })
	}()
	return caFile
}
