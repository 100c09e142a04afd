// Package podgc is the pod garbage collector, upstream's podgc controller for kybern's
// Pods. Every pass (20 s, as upstream's gcCheckPeriod) it
//
//   - deletes the oldest terminated pods (Succeeded or Failed) beyond
//     --terminated-pod-gc-threshold (12500; 0 turns this off);
//   - collects the pods of a Node that is gone: once the Node has been missing from the
//     cache for the quarantine (40 s) and the apiserver confirms it, each pod is marked
//     Failed with a DisruptionTarget condition (reason DeletionByPodGC), the node agent's
//     finalizer is removed (no agent is left to remove it) and the pod is deleted;
//   - finishes the deletion of pods on a Node that is not Ready and carries the
//     node.kubernetes.io/out-of-service taint (upstream's non-graceful node shutdown): an
//     operator's statement that the node is down for good, so that a StatefulSet's pod
//     there can be replaced.
//
// Upstream also force-deletes unscheduled pods that are being deleted; a kybern Pod is a
// custom resource, with no graceful deletion, and no node agent's finalizer until it is
// bound, so such a pod is gone already or waits on another controller's finalizer.
//
// Files: plan.go decides from a snapshot (pure, table-tested), podgc.go lists, confirms
// missing Nodes with the apiserver and acts.
package podgc
