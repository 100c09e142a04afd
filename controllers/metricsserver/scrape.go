package metricsserver

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"

	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
	"github.com/kybern/kybern/controllers/internal/resourcemetrics"
)

// scrapeWorkers is how many node agents are scraped at once.
const scrapeWorkers = 16

// maxResponse bounds what one agent may send; a node with 110 pods of 10 containers sends
// about 300 KiB.
const maxResponse = 16 << 20

// scraper reads every node agent's resource metrics each resolution into store. Every
// manager replica runs one, since the apiserver may send metrics API requests to any.
type scraper struct {
	nodes      client.Reader
	agents     *http.Client
	store      *resourcemetrics.Store
	resolution time.Duration
	clock      clock.PassiveClock
	log        logr.Logger

	// prev and failing are each node's last good sample and whether its last scrape
	// failed; only the loop touches them.
	prev    map[string]sample
	failing map[string]bool
}

// NeedLeaderElection is false: every replica serves the metrics API.
func (s *scraper) NeedLeaderElection() bool { return false }

// Start scrapes until ctx ends.
func (s *scraper) Start(ctx context.Context) error {
	s.prev, s.failing = map[string]sample{}, map[string]bool{}
	ticker := time.NewTicker(s.resolution)
	defer ticker.Stop()
	for {
		s.scrapeAll(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-ticker.C:
		}
	}
}

// result is one node's scrape.
type result struct {
	node   string
	sample sample
	err    error
}

// scrapeAll scrapes every node that publishes an agent endpoint, within one resolution.
func (s *scraper) scrapeAll(ctx context.Context) {
	var nodes corev1alpha1.NodeList
	if err := s.nodes.List(ctx, &nodes); err != nil {
		s.log.Error(err, "Cannot list the nodes to scrape")
		return
	}
	ctx, cancel := context.WithTimeout(ctx, s.resolution)
	defer cancel()
	work := make(chan *corev1alpha1.Node)
	results := make(chan result, len(nodes.Items))
	var wg sync.WaitGroup
	for range min(scrapeWorkers, len(nodes.Items)) {
		wg.Go(func() {
			for n := range work {
				smp, err := s.scrape(ctx, n)
				results <- result{node: n.Name, sample: smp, err: err}
			}
		})
	}
	for i := range nodes.Items {
		work <- &nodes.Items[i]
	}
	close(work)
	wg.Wait()
	close(results)

	seen := map[string]bool{}
	for r := range results {
		seen[r.node] = true
		s.record(r)
	}
	for _, node := range s.store.KnownNodes() {
		if !seen[node] {
			s.store.ForgetNode(node)
		}
	}
	for node := range s.prev {
		if !seen[node] {
			delete(s.prev, node)
			delete(s.failing, node)
		}
	}
}

// record keeps a node's result. A node whose scrape fails has no usage until one succeeds:
// stale usage would mislead the autoscaler. Failures are logged when a node starts and
// stops failing, not at every scrape.
func (s *scraper) record(r result) {
	if r.err != nil {
		if !s.failing[r.node] {
			s.log.Info("Cannot scrape the node agent's resource metrics; the node has no usage until it can", "node", r.node, "error", r.err.Error())
		}
		s.failing[r.node] = true
		s.store.ForgetNode(r.node)
		delete(s.prev, r.node)
		return
	}
	if s.failing[r.node] {
		s.log.Info("Scraping the node agent's resource metrics again", "node", r.node)
	}
	delete(s.failing, r.node)
	nodeUsage, pods := usage(r.node, s.prev[r.node], r.sample, 2*s.resolution)
	s.store.SetNode(r.node, nodeUsage, pods)
	s.prev[r.node] = r.sample
}

// scrape reads one agent's /metrics/resource.
func (s *scraper) scrape(ctx context.Context, n *corev1alpha1.Node) (sample, error) {
	url, err := agentURL(n)
	if err != nil {
		return sample{}, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url+"/metrics/resource", nil)
	if err != nil {
		return sample{}, err
	}
	resp, err := s.agents.Do(req)
	if err != nil {
		return sample{}, err
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return sample{}, fmt.Errorf("GET %s/metrics/resource: %s: %s", url, resp.Status, body)
	}
	return parse(io.LimitReader(resp.Body, maxResponse), s.clock.Now())
}

// agentURL is where node's agent serves its API: the first of its InternalIP, Hostname and
// ExternalIP addresses, at the port the agent publishes.
func agentURL(n *corev1alpha1.Node) (string, error) {
	port := n.Status.DaemonEndpoints.KubeletEndpoint.Port
	if port <= 0 {
		return "", fmt.Errorf("node %s publishes no agent API port (status.daemonEndpoints.kubeletEndpoint.port); its agent runs with --port 0", n.Name)
	}
	for _, kind := range []corev1.NodeAddressType{corev1.NodeInternalIP, corev1.NodeHostName, corev1.NodeExternalIP} {
		for _, a := range n.Status.Addresses {
			if a.Type == kind && a.Address != "" {
				return "https://" + net.JoinHostPort(a.Address, strconv.Itoa(int(port))), nil
			}
		}
	}
	return "", fmt.Errorf("node %s has no InternalIP, Hostname or ExternalIP address in status.addresses", n.Name)
}
