package bench

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"text/tabwriter"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
	"github.com/kybern/kybern/node-agent/apiservice"
	"github.com/kybern/kybern/node-agent/proxy"
	"github.com/kybern/kybern/test/testenv"
)

// defaultSoak is how long make bench churns; SOAK_DURATION (a Go duration) overrides it.
const defaultSoak = 30 * time.Minute

// settleLimit is how long the end sample may take to come back to the baseline once the
// cluster is quiet: deletes the agents finish in the background (log directories, leases)
// get that long before a growth counts.
const settleLimit = 2 * time.Minute

// BenchmarkSoak churns Deployments (create, scale, roll out, scale down, delete) and Jobs
// (run to completion, delete) over two node agents with real containers for SOAK_DURATION
// (default 30m), and then reports what leaked: it samples the manager, the agents, their
// containerds and the host once after a warm-up round and again at the end, each time with
// every pod and container gone, prints both with the growth, and fails if a count that
// must return to its baseline grew, or goroutines or memory grew past their tolerance.
// Needs root and containerd, as make test's e2e tests.
func BenchmarkSoak(b *testing.B) {
	duration := defaultSoak
	if v := os.Getenv("SOAK_DURATION"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			b.Fatalf("SOAK_DURATION=%q: want a Go duration such as 30m or 3m", v)
		}
		duration = d
	}
	if os.Geteuid() != 0 {
		b.Fatal("the soak runs containers and needs root")
	}
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		b.Fatal("KUBEBUILDER_ASSETS is unset: run make bench")
	}
	// Short: unix socket paths must stay under 108 bytes.
	work, err := os.MkdirTemp("", "kybern-soak-")
	if err != nil {
		b.Fatal(err)
	}
	defer func() {
		if b.Failed() {
			b.Logf("Kept the agents' and the manager's logs in %s", work)
			return
		}
		if err := os.RemoveAll(work); err != nil {
			b.Error(err)
		}
	}()
	if err := testenv.BuildNodeAgent(work); err != nil {
		b.Fatal(err)
	}
	nodes, suite := startSoakCluster(b, work)
	ctx, c := suite.Ctx, suite.Env.Client
	ns, err := suite.Env.NewNamespace(ctx, "soak")
	if err != nil {
		b.Fatal(err)
	}
	ch := churn{c: c, ns: ns}
	logDir := filepath.Join(work, "logs")

	for range b.N {
		if err := ch.round(ctx, 0); err != nil {
			b.Fatalf("warm-up round: %v", err)
		}
		if err := quiesce(ctx, c, nodes); err != nil {
			b.Fatalf("after the warm-up round: %v", err)
		}
		base, err := measure(ctx, nodes, logDir)
		if err != nil {
			b.Fatal(err)
		}
		start, rounds := time.Now(), 0
		for time.Since(start) < duration {
			rounds++
			if err := ch.round(ctx, rounds); err != nil {
				b.Fatalf("round %d: %v", rounds, err)
			}
		}
		if err := quiesce(ctx, c, nodes); err != nil {
			b.Fatalf("after %d rounds: %v", rounds, err)
		}
		end, err := settled(ctx, nodes, logDir, base)
		if err != nil {
			b.Fatal(err)
		}
		// To stdout: the testing package cuts a benchmark's log to its first lines.
		fmt.Printf("Soak: %d rounds in %s after the warm-up, each 2 Deployments (2→4 replicas, rollout, →1) and a Job of 3 pods\n%s",
			rounds, time.Since(start).Round(time.Second), table(base, end))
		b.ReportMetric(float64(rounds), "rounds")
		for i, r := range base.rows {
			if !r.allowed(base.values[i], end.values[i]) {
				b.Errorf("%s grew from %g to %g (allowed: %s)", r.name, base.values[i], end.values[i], r.rule())
			}
		}
	}
}

// startSoakCluster starts a control plane with every controller and admission, as make
// run does, and two node agents with embedded containerds under work, all stopped when
// the benchmark ends; it returns once both Nodes are Ready.
func startSoakCluster(b *testing.B, work string) ([]soakNode, *testenv.Suite) {
	managerLog, err := os.Create(filepath.Join(work, "manager.log"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = managerLog.Close() })
	if err := os.MkdirAll(filepath.Join(work, "controlplane"), 0o755); err != nil {
		b.Fatal(err)
	}
	suite, err := testenv.StartSuite(filepath.Join(work, "controlplane"), managerLog,
		testenv.SuiteSpec{Controllers: []string{"*"}, Admission: true})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { stopping(b, suite.Stop) })
	unlock, err := testenv.LockHost()
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(unlock)
	ctx, c := suite.Ctx, suite.Env.Client
	var nodes []soakNode
	for _, name := range []string{"soak-a", "soak-b"} {
		a, err := testenv.StartAgentProcess(work, suite.Env.Kubeconfig, name)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() {
			stopping(b, a.Stop)
			// The agents leave their rules for a restart; these nodes are gone for good.
			stopping(b, func() error {
				return errors.Join(proxy.Cleanup(ctx, proxy.TableName(name)), apiservice.Cleanup(ctx, name))
			})
		})
		nodes = append(nodes, soakNode{agent: a, dir: filepath.Join(work, "nodes", name)})
	}
	for _, n := range nodes {
		err := poll(ctx, func(ctx context.Context) (bool, error) {
			if exited, err := n.agent.Exited(); exited {
				return false, fmt.Errorf("node agent %s exited: %v; see %s", n.agent.Node, err, n.agent.LogFile)
			}
			node := &corev1alpha1.Node{}
			if err := c.Get(ctx, client.ObjectKey{Name: n.agent.Node}, node); err != nil {
				return false, client.IgnoreNotFound(err)
			}
			for _, cond := range node.Status.Conditions {
				if cond.Type == corev1.NodeReady && cond.Status == corev1.ConditionTrue {
					return true, nil
				}
			}
			return false, nil
		})
		if err != nil {
			b.Fatalf("node %s Ready: %v", n.agent.Node, err)
		}
	}
	return nodes, suite
}

// quiesce waits until the cluster has no pod and no agent's containerd a container, task
// or shim.
func quiesce(ctx context.Context, c client.Client, nodes []soakNode) error {
	var left string
	err := poll(ctx, func(ctx context.Context) (bool, error) {
		var pods corev1alpha1.PodList
		if err := c.List(ctx, &pods); err != nil {
			return false, err
		}
		if len(pods.Items) > 0 {
			left = fmt.Sprintf("%d pods", len(pods.Items))
			return false, nil
		}
		for _, n := range nodes {
			var s sample
			if err := containerdRows(ctx, &s, n); err != nil {
				return false, err
			}
			shims, err := shimCount(n.agent.Address)
			if err != nil {
				return false, err
			}
			if s.values[0] > 0 || s.values[1] > 0 || shims > 0 {
				left = fmt.Sprintf("node %s: %g containers, %g tasks, %d shims", n.agent.Node, s.values[0], s.values[1], shims)
				return false, nil
			}
		}
		return true, nil
	})
	if err != nil {
		return fmt.Errorf("waiting for no pods and no containers, %s left: %w", left, err)
	}
	return nil
}

// settled samples until every row is within its limit of base, or settleLimit passes,
// and returns the last sample.
func settled(ctx context.Context, nodes []soakNode, logDir string, base sample) (sample, error) {
	deadline := time.Now().Add(settleLimit)
	for {
		end, err := measure(ctx, nodes, logDir)
		if err != nil {
			return end, err
		}
		if len(end.rows) != len(base.rows) {
			return end, fmt.Errorf("the end sample has %d rows, the baseline %d", len(end.rows), len(base.rows))
		}
		ok := true
		for i, r := range base.rows {
			ok = ok && r.allowed(base.values[i], end.values[i])
		}
		if ok || time.Now().After(deadline) {
			return end, nil
		}
		select {
		case <-ctx.Done():
			return end, ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

// table lays out base and end side by side with the growth and each row's rule.
func table(base, end sample) string {
	var out strings.Builder
	w := tabwriter.NewWriter(&out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "resource\tafter warm-up\tat end\tgrowth\tallowed")
	for i, r := range base.rows {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", r.name, num(base.values[i]), num(end.values[i]), num(end.values[i]-base.values[i]), r.rule())
	}
	_ = w.Flush()
	return out.String()
}

func num(v float64) string {
	if v == math.Trunc(v) {
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%.1f", v)
}
