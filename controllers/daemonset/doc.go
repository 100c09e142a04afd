// Package daemonset is the DaemonSet controller: it keeps one pod of a DaemonSet's template
// on every node that fits it, as kube-controller-manager's does for apps/v1.
//
// A node fits (eligibility.go) when the template's nodeName, nodeSelector and required node
// affinity match it and it has no NoSchedule or NoExecute taint the pod does not tolerate;
// every daemon pod tolerates upstream's node-condition taints. A node whose only
// untolerated taints are NoSchedule keeps the pod it runs but gets no new one. Selectors,
// affinity and tolerations are matched by controllers/internal/nodepredicates, the
// predicates the scheduler filters with, so the two agree on which nodes a daemon pod's
// selectors and tolerations admit.
//
// Each reconcile claims the DaemonSet's pods and ControllerRevisions, makes sure a revision
// records the current template (history.go), and, when the cache has caught up with the
// controller's own creates and deletes (expectations), plans one round of writes
// (manage.go): a pod for each fitting node without one, targeted through required node
// affinity on metadata.name and created unbound for the scheduler; deletion of pods on
// nodes that no longer fit or no longer exist, of surplus pods, and of failed pods (with
// backoff). When there is nothing of that kind to do, a RollingUpdate replaces pods of old
// revisions within maxUnavailable and maxSurge (update.go). The status is computed from what
// was observed and written once, only when it changed (status.go).
package daemonset
