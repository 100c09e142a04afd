// Package scheduler binds pending pods to nodes, as kube-scheduler does for the pods whose
// spec.schedulerName is default-scheduler (or empty): it filters the nodes a pod fits on
// (filters.go for the node itself, podaffinity.go and spread.go for the pods around it),
// scores those with upstream's default weights (score.go), and binds the pod by setting
// spec.nodeName once. A pod that fits nowhere gets PodScheduled=False with reason
// Unschedulable and a message counting why each node failed, and is tried again when a
// node or a bound pod changes.
//
// Decisions are made one at a time against an in-memory cache (cache.go) that the Node and
// Pod informers feed (feeds.go) and that counts each bind from the moment it is decided,
// so two quick decisions never give the same free capacity to two pods; the binds
// themselves run concurrently. Workload controllers in the same manager ask for a node
// before creating a pod (Place) and create it bound, one write instead of two.
package scheduler
