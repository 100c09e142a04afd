// Package statefulset is the StatefulSet controller: it keeps a StatefulSet's pods at
// stable identities <set>-<ordinal>, each with its own PersistentVolumeClaims, as
// kube-controller-manager's does for apps/v1.
//
// Each reconcile claims the set's pods (only those named as its members) and revisions,
// makes sure a ControllerRevision records the current template (controllers/internal/history),
// and, when the cache has caught up with the controller's own creates and deletes
// (expectations), plans one round of writes (plan.go) and carries it out (sync.go):
//   - every ordinal in [ordinals.start, start+replicas) gets a pod, created after its
//     claims (claims.go) from the current revision below the partition and the update
//     revision from it on; failed pods are deleted and recreated;
//   - pods of ordinals outside that range are condemned and deleted, highest first;
//   - a RollingUpdate deletes pods of older revisions from the highest ordinal down to the
//     partition, at most maxUnavailable unavailable at once; OnDelete leaves that to the user.
//
// Under OrderedReady every step waits for the pods before it to be Running, Ready and
// available, and for a pod being deleted to be gone; Parallel does every step at once. The
// apiserver holds one pod per name, so an ordinal never has two pods, even across a
// restart. The status is computed from what was observed and written once, only when it
// changed (status.go).
//
// With spec.rollbackPolicy set, updates roll back on their own (rollback.go): each update
// that completes becomes status.rollback.stableRevision; the pods of a later update
// revision are judged (controllers/internal/rollback), and once more of them fail than
// maxFailedPods allows of the ordinals from the partition on, status records the update
// revision as status.rollback.failedRevision, with the RolledBack condition and a Warning
// event. From then on, until spec.template changes, the stable revision stands in for the
// update revision: the pods from the partition on roll back to it as to any update, those
// of the failed revision that are not ready at once. spec is never written, and all the
// rollback knows is in status, so that a restarted controller carries on.
package statefulset
