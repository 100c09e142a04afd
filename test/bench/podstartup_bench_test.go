package bench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	containerd "github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/pkg/cio"
	"github.com/containerd/containerd/v2/pkg/oci"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
	"github.com/kybern/kybern/test/testenv"
)

// BenchmarkPodStartup20 measures, for 20 busybox pods created one after another on one
// node agent with an embedded containerd, the time from the create request until a watch
// shows the pod Running; the baseline is 20 bare container starts (create, task start)
// through the same containerd in the same run. It also reports the agent's RSS with the
// 20 pods running, and how much of it is the agent's own memory and how much the pages of
// its binary. Needs root and containerd, as make test's e2e tests.
func BenchmarkPodStartup20(b *testing.B) {
	ctx := context.Background()
	work, err := os.MkdirTemp("", "kybern-bench-")
	if err != nil {
		b.Fatal(err)
	}
	defer os.RemoveAll(work)
	if err := testenv.BuildNodeAgent(work); err != nil {
		b.Fatal(err)
	}
	env := startEnv(b)
	mgr, err := env.StartManager(testenv.DefaultOptions())
	if err != nil {
		b.Fatal(err)
	}
	defer stopping(b, mgr.Stop)
	unlock, err := testenv.LockHost()
	if err != nil {
		b.Fatal(err)
	}
	defer unlock()
	agent, err := testenv.StartAgentProcess(work, env.Kubeconfig, "bench")
	if err != nil {
		b.Fatal(err)
	}
	defer stopping(b, agent.Stop)
	waitFor(b, func() bool {
		n := &corev1alpha1.Node{}
		return env.Client.Get(ctx, client.ObjectKey{Name: "bench"}, n) == nil && len(n.Status.Conditions) > 0
	})
	watcher, err := client.NewWithWatch(env.Config, client.Options{Scheme: env.Client.Scheme()})
	if err != nil {
		b.Fatal(err)
	}

	for range b.N {
		bare, err := bareStarts(ctx, agent.Address, filepath.Join(agent.ImageDir, "busybox.tar"), 20)
		if err != nil {
			b.Fatal(err)
		}
		ns, err := env.NewNamespace(ctx, "startup")
		if err != nil {
			b.Fatal(err)
		}
		pods, err := podStarts(ctx, env.Client, watcher, ns, 20)
		if err != nil {
			b.Fatal(err)
		}
		mem, err := residentMemory(agent.Pid())
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(percentile(pods, 50).Seconds()*1000, "pod-p50-ms")
		b.ReportMetric(percentile(pods, 99).Seconds()*1000, "pod-p99-ms")
		b.ReportMetric(percentile(bare, 50).Seconds()*1000, "bare-p50-ms")
		b.ReportMetric(percentile(bare, 99).Seconds()*1000, "bare-p99-ms")
		b.ReportMetric(float64(percentile(pods, 99))/float64(percentile(bare, 99)), "p99-x-bare")
		b.ReportMetric(float64(mem.rss)/(1<<20), "agent-rss-MiB")
		b.ReportMetric(float64(mem.anon)/(1<<20), "agent-anon-MiB")
		b.ReportMetric(float64(mem.file)/(1<<20), "agent-file-MiB")
		if err := env.Client.DeleteAllOf(ctx, &corev1alpha1.Pod{}, client.InNamespace(ns)); err != nil {
			b.Fatal(err)
		}
		// The agent removes the containers before the pods go; only then may it stop.
		waitFor(b, func() bool {
			var left corev1alpha1.PodList
			return env.Client.List(ctx, &left, client.InNamespace(ns)) == nil && len(left.Items) == 0
		})
	}
}

// podStarts creates n pods one after another and returns, for each, the time from its
// create request until a watch showed it Running.
func podStarts(ctx context.Context, c client.Client, w client.WithWatch, ns string, n int) ([]time.Duration, error) {
	var out []time.Duration
	for i := range n {
		p := &corev1alpha1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: fmt.Sprintf("p%02d", i)}}
		p.Spec.Containers = []corev1.Container{{Name: "c", Image: "busybox", Command: []string{"sleep", "3600"}}}
		// sleep, as PID 1, ignores SIGTERM: a short grace period ends the run sooner.
		p.Spec.TerminationGracePeriodSeconds = ptr.To[int64](1)
		watch, err := w.Watch(ctx, &corev1alpha1.PodList{}, client.InNamespace(ns), client.MatchingFields{"metadata.name": p.Name})
		if err != nil {
			return nil, err
		}
		start := time.Now()
		if err := c.Create(ctx, p); err != nil {
			watch.Stop()
			return nil, err
		}
		err = untilRunning(watch, time.Minute)
		watch.Stop()
		if err != nil {
			return nil, fmt.Errorf("pod %s: %w", p.Name, err)
		}
		out = append(out, time.Since(start))
	}
	return out, nil
}

func untilRunning(w watch.Interface, limit time.Duration) error {
	deadline := time.After(limit)
	for {
		select {
		case e, ok := <-w.ResultChan():
			if !ok {
				return fmt.Errorf("watch closed")
			}
			if p, isPod := e.Object.(*corev1alpha1.Pod); isPod && p.Status.Phase == corev1.PodRunning {
				return nil
			}
		case <-deadline:
			return fmt.Errorf("not Running after %s", limit)
		}
	}
}

// bareStarts creates and starts n busybox containers from archive through containerd,
// one after another, and returns how long each took; it removes them afterwards.
func bareStarts(ctx context.Context, address, archive string, n int) (_ []time.Duration, err error) {
	cl, err := containerd.New(address, containerd.WithDefaultNamespace("bench-bare"))
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	f, err := os.Open(archive)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	imgs, err := cl.Import(ctx, f)
	if err != nil {
		return nil, err
	}
	img := containerd.NewImage(cl, imgs[0])
	if err := img.Unpack(ctx, "overlayfs"); err != nil {
		return nil, err
	}
	var out []time.Duration
	var started []containerd.Container
	defer func() {
		for _, c := range started {
			err = errors.Join(err, removeBare(ctx, c))
		}
	}()
	for i := range n {
		id := "bare-" + strconv.Itoa(i)
		start := time.Now()
		c, err := cl.NewContainer(ctx, id, containerd.WithImage(img), containerd.WithSnapshotter("overlayfs"),
			containerd.WithNewSnapshot(id, img), containerd.WithNewSpec(oci.WithImageConfig(img), oci.WithProcessArgs("sleep", "3600")))
		if err != nil {
			return nil, err
		}
		started = append(started, c)
		task, err := c.NewTask(ctx, cio.NullIO)
		if err != nil {
			return nil, err
		}
		if err := task.Start(ctx); err != nil {
			return nil, err
		}
		out = append(out, time.Since(start))
	}
	return out, nil
}

// removeBare kills and removes a container bareStarts made.
func removeBare(ctx context.Context, c containerd.Container) error {
	if task, err := c.Task(ctx, nil); err == nil {
		if _, err := task.Delete(ctx, containerd.WithProcessKill); err != nil {
			return err
		}
	}
	return c.Delete(ctx, containerd.WithSnapshotCleanup)
}

func percentile(ds []time.Duration, p int) time.Duration {
	s := append([]time.Duration{}, ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	i := (len(s)*p + 99) / 100
	return s[max(0, min(len(s)-1, i-1))]
}

// memory is a process's resident memory from /proc: rss in all, anon the part that is the
// process's own (heap, stacks), file the pages of its mapped files (the binary), which the
// kernel shares with every process mapping the same file.
type memory struct{ rss, anon, file int64 }

func residentMemory(pid int) (memory, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return memory{}, err
	}
	var m memory
	fields := map[string]*int64{"VmRSS:": &m.rss, "RssAnon:": &m.anon, "RssFile:": &m.file}
	for _, line := range strings.Split(string(data), "\n") {
		for prefix, dst := range fields {
			if v, ok := strings.CutPrefix(line, prefix); ok {
				kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
				if err != nil {
					return memory{}, err
				}
				*dst = kb * 1024
			}
		}
	}
	if m.rss == 0 {
		return memory{}, fmt.Errorf("no VmRSS for pid %d", pid)
	}
	return m, nil
}
