// Package bench measures the control plane against a real apiserver (envtest). Run with
// make bench; each benchmark reports its own figures and the baseline of the same run.
package bench

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	appsv1alpha1 "github.com/kybern/kybern/api/apps/v1alpha1"
	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
	"github.com/kybern/kybern/controllers"
	"github.com/kybern/kybern/test/testenv"
)

// countingTransport counts the requests a client sends.
type countingTransport struct {
	next  http.RoundTripper
	count *atomic.Int64
}

func (t countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	t.count.Add(1)
	return t.next.RoundTrip(r)
}

// BenchmarkDeploymentScaleTo1000 scales a Deployment from 0 to 1000 replicas and reports
// the seconds until 1000 pods exist and the API requests the manager made, with the
// manager's default client limits; with them and the admission webhook judging every pod
// create (upstream's validation and Pod Security), as make run serves it; and, as the
// baseline, kube-controller-manager's default of 20 QPS with a burst of 30.
func BenchmarkDeploymentScaleTo1000(b *testing.B) {
	env := startEnv(b)
	for _, limits := range []struct {
		name      string
		qps       float32
		burst     int
		admission bool
	}{
		{"client=default", controllers.DefaultQPS, controllers.DefaultBurst, false},
		{"client=upstream-default-20qps", 20, 30, false},
		// Last: the registration outlives the manager, and is removed after.
		{"client=default,admission=on", controllers.DefaultQPS, controllers.DefaultBurst, true},
	} {
		b.Run(limits.name, func(b *testing.B) {
			for i := range b.N {
				secs, requests := scaleTo1000(b, env, limits.qps, limits.burst, limits.admission, fmt.Sprintf("%s-%d", limits.name, i))
				b.ReportMetric(secs, "s/1000pods")
				b.ReportMetric(float64(requests), "requests/1000pods")
			}
		})
	}
}

func scaleTo1000(b *testing.B, env *testenv.Env, qps float32, burst int, withAdmission bool, name string) (float64, int64) {
	ctx := context.Background()
	const replicas = 1000
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "bench-"}}
	if err := env.Client.Create(ctx, ns); err != nil {
		b.Fatal(err)
	}

	var requests atomic.Int64
	cfg := rest.CopyConfig(env.Config)
	cfg.QPS, cfg.Burst = qps, burst
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper { return countingTransport{next: rt, count: &requests} })
	startManager := env.StartManagerWithConfig
	if withAdmission {
		startManager = env.StartManagerWithAdmission
		defer func() {
			if err := env.RemoveAdmission(ctx); err != nil {
				b.Error(err)
			}
		}()
	}
	mgr, err := startManager(cfg, testenv.DefaultOptions())
	if err != nil {
		b.Fatal(err)
	}
	defer stopping(b, mgr.Stop)

	d := &appsv1alpha1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: ns.Name, Name: "scale"}}
	d.Spec.Replicas = ptr.To[int32](0)
	d.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"app": "scale"}}
	d.Spec.Template.Labels = map[string]string{"app": "scale"}
	d.Spec.Template.Spec.Containers = []corev1.Container{{Name: "web", Image: "busybox"}}
	if err := env.Client.Create(ctx, d); err != nil {
		b.Fatal(err)
	}
	waitFor(b, func() bool {
		var list appsv1alpha1.ReplicaSetList
		return env.Client.List(ctx, &list, client.InNamespace(ns.Name)) == nil && len(list.Items) == 1
	})

	scheme := env.Client.Scheme()
	watcher, err := client.NewWithWatch(env.Config, client.Options{Scheme: scheme})
	if err != nil {
		b.Fatal(err)
	}

	b.ResetTimer()
	before := requests.Load()
	start := time.Now()
	orig := d.DeepCopy()
	d.Spec.Replicas = ptr.To[int32](replicas)
	if err := env.Client.Patch(ctx, d, client.MergeFrom(orig)); err != nil {
		b.Fatal(err)
	}
	if err := countPods(ctx, watcher, ns.Name, replicas, 5*time.Minute); err != nil {
		b.Fatalf("%s: %v", name, err)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	return elapsed.Seconds(), requests.Load() - before
}

// countPods returns once n pods exist in ns.
func countPods(ctx context.Context, c client.WithWatch, ns string, n int, limit time.Duration) error {
	return waitPods(ctx, c, ns, n, limit, func(*corev1alpha1.Pod) bool { return true })
}

// waitPods returns once n pods in ns satisfy cond. It watches pods and, when the
// apiserver drops a watch that falls behind a burst, lists and watches again.
func waitPods(ctx context.Context, c client.WithWatch, ns string, n int, limit time.Duration, cond func(*corev1alpha1.Pod) bool) error {
	met := map[string]bool{}
	count := func() int {
		total := 0
		for _, ok := range met {
			if ok {
				total++
			}
		}
		return total
	}
	deadline := time.After(limit)
	for {
		var list corev1alpha1.PodList
		if err := c.List(ctx, &list, client.InNamespace(ns)); err != nil {
			return err
		}
		for i := range list.Items {
			met[list.Items[i].Name] = cond(&list.Items[i])
		}
		if count() >= n {
			return nil
		}
		w, err := c.Watch(ctx, &corev1alpha1.PodList{}, client.InNamespace(ns), &client.ListOptions{Raw: &metav1.ListOptions{ResourceVersion: list.ResourceVersion}})
		if err != nil {
			return err
		}
		for open := true; open; {
			select {
			case e, ok := <-w.ResultChan():
				if !ok {
					open = false
					break
				}
				if p, isPod := e.Object.(*corev1alpha1.Pod); isPod && (e.Type == watch.Added || e.Type == watch.Modified) {
					met[p.Name] = cond(p)
				}
				if count() >= n {
					w.Stop()
					return nil
				}
			case <-deadline:
				w.Stop()
				return fmt.Errorf("%d of %d pods after %s", count(), n, limit)
			}
		}
	}
}

// stopping stops what stop stops when the benchmark returns, failing it on an error.
func stopping(b *testing.B, stop func() error) {
	if err := stop(); err != nil {
		b.Error(err)
	}
}

// startEnv starts a control plane with kybern's CRDs for one benchmark, stopped when it
// ends.
func startEnv(b *testing.B) *testenv.Env {
	b.Helper()
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		b.Fatal("KUBEBUILDER_ASSETS is unset: run make bench")
	}
	env, err := testenv.Start(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		if err := env.Stop(); err != nil {
			b.Error(err)
		}
	})
	if err := env.InstallCRDs(context.Background()); err != nil {
		b.Fatal(err)
	}
	return env
}

func waitFor(b *testing.B, cond func() bool) {
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			b.Fatal("timed out")
		}
		time.Sleep(50 * time.Millisecond)
	}
}
