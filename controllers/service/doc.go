// Package service is the Service controller: it allocates each core.kybern.io Service's
// cluster IP from the service CIDR and its node ports from the node-port range, which
// upstream's apiserver does at admission (its ipallocator and portallocator).
//
// Allocation here happens after the Service is stored, so it is built for concurrency. One
// Reconciler keeps the allocations in memory (allocations.go), rebuilt from every Service
// in the cache before the first reconcile and serialised by a mutex; a Service is given
// an address or a port only through an update that carries its resourceVersion, so a stale
// cache or a second manager cannot give the same one twice: a conflict leaves the
// reservation in memory and the newer Service's watch event brings the reconcile back.
//
// A Service that asks for an address or a port that another Service holds, or one out of
// range, or that finds its range full, gets nothing for that field: a Warning event
// (ClusterIPAllocationFailed, NodePortAllocationFailed) and the status condition
// ClusterIPAllocated or NodePortAllocated False say which field and how to fix it. When a
// Service is deleted its allocations are dropped on the delete event (no finalizer: they
// are recomputed from live Services at every start) and failed Services are retried.
//
// The controller also persists upstream's defaults: targetPort from port, clusterIPs,
// ipFamilies [IPv4] and ipFamilyPolicy SingleStack, and clears nodePorts when a Service
// changes to a type without them.
package service
