package bench

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	appsv1alpha1 "github.com/kybern/kybern/api/apps/v1alpha1"
	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
	"github.com/kybern/kybern/test/testenv"
)

// BenchmarkSchedule1000PodsOn100Nodes measures, with 100 Ready nodes registered and the
// manager's defaults, three ways 1000 pods come to exist, each in its own namespace:
//   - baseline: 16 clients create 1000 pods that name another scheduler, so nothing
//     binds them: what the apiserver takes for 1000 pod writes;
//   - scheduler: the same clients create 1000 unbound pods; the scheduler binds each
//     with a patch: seconds until all are bound;
//   - deployment: a 1000-replica Deployment; its pods are created already bound:
//     seconds from the Deployment's creation until all are bound.
func BenchmarkSchedule1000PodsOn100Nodes(b *testing.B) {
	ctx := context.Background()
	env := startEnv(b)
	mgr, err := env.StartManager(testenv.DefaultOptions())
	if err != nil {
		b.Fatal(err)
	}
	defer stopping(b, mgr.Stop)
	for i := range 100 {
		if _, err := testenv.RegisterReadyNode(ctx, env.Client, fmt.Sprintf("node-%03d", i), "32", nil); err != nil {
			b.Fatal(err)
		}
	}
	watcher, err := client.NewWithWatch(env.Config, client.Options{Scheme: env.Client.Scheme()})
	if err != nil {
		b.Fatal(err)
	}
	bound := func(p *corev1alpha1.Pod) bool { return p.Spec.NodeName != "" }
	exists := func(*corev1alpha1.Pod) bool { return true }

	var baseline float64
	b.Run("baseline=create-unscheduled", func(b *testing.B) {
		for range b.N {
			baseline = timed(b, env, watcher, exists, func(ns string) error { return createPods(ctx, env.Client, ns, "other-scheduler") })
			b.ReportMetric(baseline, "s/1000pods")
		}
	})
	b.Run("scheduler=bind-unbound", func(b *testing.B) {
		for range b.N {
			secs := timed(b, env, watcher, bound, func(ns string) error { return createPods(ctx, env.Client, ns, "") })
			b.ReportMetric(secs, "s/1000pods")
			b.ReportMetric(1000/secs, "pods/s")
			b.ReportMetric(secs/baseline, "x-baseline")
		}
	})
	b.Run("deployment=created-bound", func(b *testing.B) {
		for range b.N {
			secs := timed(b, env, watcher, bound, func(ns string) error { return createDeployment(ctx, env.Client, ns) })
			b.ReportMetric(secs, "s/1000pods")
			b.ReportMetric(1000/secs, "pods/s")
			b.ReportMetric(secs/baseline, "x-baseline")
		}
	})
}

// timed runs start in a new namespace and returns the seconds until 1000 of its pods
// satisfy cond.
func timed(b *testing.B, env *testenv.Env, watcher client.WithWatch, cond func(*corev1alpha1.Pod) bool, start func(ns string) error) float64 {
	ctx := context.Background()
	ns, err := env.NewNamespace(ctx, "bench")
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	began := time.Now()
	errs := make(chan error, 1)
	go func() { errs <- start(ns) }()
	if err := waitPods(ctx, watcher, ns, 1000, 5*time.Minute, cond); err != nil {
		b.Fatal(err)
	}
	elapsed := time.Since(began)
	b.StopTimer()
	if err := <-errs; err != nil {
		b.Fatal(err)
	}
	return elapsed.Seconds()
}

// createPods creates 1000 pods in ns through 16 concurrent clients.
func createPods(ctx context.Context, c client.Client, ns, schedulerName string) error {
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for w := range 16 {
		wg.Go(func() {
			for i := w; i < 1000; i += 16 {
				p := &corev1alpha1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: fmt.Sprintf("pod-%04d", i)}}
				p.Spec.SchedulerName = schedulerName
				p.Spec.Containers = []corev1.Container{{Name: "c", Image: "busybox"}}
				if err := c.Create(ctx, p); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	return <-errs
}

func createDeployment(ctx context.Context, c client.Client, ns string) error {
	d := &appsv1alpha1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "web"}}
	d.Spec.Replicas = ptr.To[int32](1000)
	d.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}
	d.Spec.Template.Labels = map[string]string{"app": "web"}
	d.Spec.Template.Spec.Containers = []corev1.Container{{Name: "c", Image: "busybox"}}
	return c.Create(ctx, d)
}
