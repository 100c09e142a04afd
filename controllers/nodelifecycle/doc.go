// Package nodelifecycle gives each Node a pod CIDR and watches its heartbeat, as
// kube-controller-manager's node IPAM and node lifecycle controllers do.
//
// A node whose Lease in namespace kybern-node-lease goes unrenewed for the grace period
// gets Ready=Unknown and the node.kubernetes.io/unreachable taints (NoSchedule, so nothing
// new lands there, and NoExecute); one whose agent reports Ready=False gets the not-ready
// taints of both effects. A pod leaves a node once it no longer tolerates one of its
// NoExecute taints (noexecute.go), so that its controller replaces it elsewhere; an
// unreachable node's StatefulSet pods stay, since deleting one whose node may still run
// it could leave two pods with one ordinal. The taints go with their condition.
package nodelifecycle
