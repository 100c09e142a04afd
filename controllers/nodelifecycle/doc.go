// Package nodelifecycle gives each Node a pod CIDR and watches its heartbeat, as
// kube-controller-manager's node IPAM and node lifecycle controllers do.
//
// A node whose Lease in namespace kybern-node-lease goes unrenewed for the grace period
// gets Ready=Unknown and the node.kubernetes.io/unreachable taints (NoSchedule, so nothing
// new lands there, and NoExecute). Its pods are deleted once their toleration of the
// NoExecute taint runs out (the default when they state none), so that their controllers
// replace them elsewhere; StatefulSet pods stay, since deleting one whose node may still
// run it could leave two pods with one ordinal. A node that renews its Lease again loses
// the taints.
package nodelifecycle
