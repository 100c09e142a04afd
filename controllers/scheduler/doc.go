// Package scheduler binds pending pods to nodes, as kube-scheduler does for the pods whose
// spec.schedulerName is default-scheduler (or empty): it filters the nodes a pod fits on
// (filters.go), scores those (score.go), and binds the pod by setting spec.nodeName once.
// A pod that fits nowhere gets PodScheduled=False with reason Unschedulable and a message
// counting why each node failed, and is tried again when a node or a pod changes.
//
// Decisions are made one at a time against the cache plus the pods this scheduler bound
// but the cache does not show yet (assumed.go), so that two quick decisions never give the
// same free capacity to two pods; the binds themselves run concurrently.
package scheduler
