// Package nodepredicates answers what a pod's own spec says about a node, with no cluster
// state beyond the node itself: whether its nodeSelector and required node affinity select
// the node (affinity.go, which also matches one term for preferred node affinity scoring),
// and which of the node's taints its tolerations leave untolerated (taints.go). The
// scheduler filters and scores with these predicates and the DaemonSet controller decides
// with them which nodes should run a daemon pod, so the two agree on what fits and neither
// imports the other.
//
// Why not k8s.io/component-helpers/scheduling/corev1 and its nodeaffinity package, as
// upstream's pkg/controller/daemon/daemon_controller.go uses: they match upstream's API
// only on input that upstream's validation admits, and kybern's Pod CRD does not validate
// tolerations or node selector terms, so the other input reaches these predicates. On it
// they differ:
//   - a toleration with an empty key and operator Equal (or none) tolerates nothing here;
//     corev1.Toleration.ToleratesTaint, which TolerationsTolerateTaint calls, tolerates
//     every taint whose value equals the toleration's;
//   - a matchFields requirement "metadata.name In [a, b]" matches node a or b here;
//     nodeaffinity accepts exactly one value and fails the whole term otherwise;
//   - a matchFields requirement on any key but metadata.name matches no node here;
//     nodeaffinity reads the missing field as "", so "metadata.uid NotIn [x]" matches
//     every node.
//
// Their functions also take *corev1.Pod and *corev1.Node, where ours are CRDs, so each call
// would first build a core object. Switching would change which nodes fit, which this
// package exists to keep the same for its two callers.
package nodepredicates
