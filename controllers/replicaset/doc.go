// Package replicaset is the ReplicaSet controller: it keeps spec.replicas pods matching a
// ReplicaSet's selector running, as kube-controller-manager's does for apps/v1.
//
// Each reconcile claims the matching pods (adopting orphans, releasing pods whose labels
// stopped matching), creates or deletes pods to reach spec.replicas when the cache has
// caught up with the controller's own earlier writes (expectations), and writes the status
// once. Creates run in slow-start batches of 1, 2, 4, … and at most BurstReplicas per
// reconcile; deletes pick victims in upstream's order (rank.go).
package replicaset
