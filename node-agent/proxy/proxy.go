// Package proxy is the node agent's service proxy, as kube-proxy's nftables mode: it
// watches Services and EndpointSlices and keeps one nftables table of the node's own in
// step with them, so that a Service's cluster IP and node ports reach its ready pods.
package proxy

import (
	"context"
	"time"

	"github.com/go-logr/logr"
	ctrlcache "sigs.k8s.io/controller-runtime/pkg/cache"

	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
	"github.com/kybern/kybern/node-agent/nft"
	"github.com/kybern/kybern/node-agent/servicewatch"
)

// Proxy programs one node's service rules.
type Proxy struct {
	// Table is the nftables table (family ip) the proxy owns.
	Table string
	// Bridges matches the names of the node's pod bridges, as nftables' oifname does.
	Bridges string
	// Ranges are the cluster's service ranges, outside which nothing is programmed.
	Ranges Ranges
	Log    logr.Logger
	// MinSyncInterval spaces syncs: changes within it are written together.
	MinSyncInterval time.Duration

	applied  string
	reported map[problem]bool
}

// TableName is the table of node's proxy: "kybern_" and the node name, with characters
// nftables does not take in a name replaced by '_'.
func TableName(node string) string {
	return nft.TableName("kybern_", node)
}

// Run keeps the table in step with the Services and EndpointSlices until ctx ends,
// watching them through cache, which it starts informers in and the caller runs. The
// table stays when it returns, so that Services keep working while the agent restarts;
// Cleanup removes it.
func (p *Proxy) Run(ctx context.Context, cache ctrlcache.Cache) error {
	return servicewatch.OnChange(ctx, cache, p.MinSyncInterval, p.Log, p.sync)
}

func (p *Proxy) sync(ctx context.Context, services []corev1alpha1.Service, slices []corev1alpha1.EndpointSlice) error {
	ports, problems := servicePorts(services, slices, p.Ranges)
	p.report(problems)
	script := ruleset(p.Table, p.Bridges, ports)
	if script == p.applied {
		return nil
	}
	if err := nft.Run(ctx, script); err != nil {
		return err
	}
	p.applied = script
	p.Log.V(1).Info("Wrote service rules", "table", p.Table, "servicePorts", len(ports))
	return nil
}

// report logs each problem once, while it lasts.
func (p *Proxy) report(problems []problem) {
	now := make(map[problem]bool, len(problems))
	for _, pr := range problems {
		now[pr] = true
		if !p.reported[pr] {
			p.Log.Error(nil, "Left part of a Service out of the node's rules", "service", pr.service, "problem", pr.message)
		}
	}
	p.reported = now
}

// Cleanup removes the proxy's table, if there is one.
func Cleanup(ctx context.Context, table string) error {
	return nft.DeleteTable(ctx, table)
}
