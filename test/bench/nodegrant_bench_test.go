package bench

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
	"github.com/kybern/kybern/test/testenv"
)

// BenchmarkNodeGrant measures how long a new pod waits for its node's grant: 100 pods
// bound to one node, each using a Secret of its own, created one after the other; for
// each, the time from its create returning until the node identity can read its Secret
// (polled every millisecond). Baseline: the same node identity's GET of a Secret it may
// read, one apiserver round trip through impersonation, in the same run.
func BenchmarkNodeGrant(b *testing.B) {
	ctx := context.Background()
	env := startEnv(b)
	if out, err := env.Kubectl(ctx, "apply", "--server-side", "-f", filepath.Join(testenv.RepoRoot(), "config", "rbac", "node-agent")); err != nil {
		b.Fatal(out, err)
	}
	opts := testenv.DefaultOptions()
	opts.Controllers = []string{"nodeauthorizer"}
	mgr, err := env.StartManager(opts)
	if err != nil {
		b.Fatal(err)
	}
	defer stopping(b, mgr.Stop)
	cfg := rest.CopyConfig(env.Config)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: corev1alpha1.NodeUser("bench"), Groups: []string{"kybern:nodes", "system:authenticated"}}
	asNode, err := client.New(cfg, client.Options{Scheme: env.Client.Scheme()})
	if err != nil {
		b.Fatal(err)
	}
	for range b.N {
		ns, err := env.NewNamespace(ctx, "grant")
		if err != nil {
			b.Fatal(err)
		}
		var waits, trips []time.Duration
		for i := range 100 {
			name := fmt.Sprintf("s-%03d", i)
			if err := env.Client.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}); err != nil {
				b.Fatal(err)
			}
			pod := &corev1alpha1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Spec: corev1.PodSpec{NodeName: "bench",
				Containers: []corev1.Container{{Name: "c", Image: "busybox"}},
				Volumes:    []corev1.Volume{{Name: "s", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: name}}}}}}
			if err := env.Client.Create(ctx, pod); err != nil {
				b.Fatal(err)
			}
			created := time.Now()
			for asNode.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &corev1.Secret{}) != nil {
				if time.Since(created) > time.Minute {
					b.Fatalf("no grant for %s after a minute", name)
				}
				time.Sleep(time.Millisecond)
			}
			waits = append(waits, time.Since(created))
			start := time.Now()
			if err := asNode.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &corev1.Secret{}); err != nil {
				b.Fatal(err)
			}
			trips = append(trips, time.Since(start))
		}
		slices.Sort(waits)
		slices.Sort(trips)
		b.ReportMetric(float64(waits[50].Milliseconds()), "ms-wait-p50")
		b.ReportMetric(float64(waits[98].Milliseconds()), "ms-wait-p99")
		b.ReportMetric(float64(waits[99].Milliseconds()), "ms-wait-max")
		b.ReportMetric(float64(trips[50].Microseconds())/1000, "ms-get-p50")
		b.ReportMetric(float64(waits[50])/float64(trips[50]), "x-get-p50")
	}
}
