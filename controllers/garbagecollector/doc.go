// Package garbagecollector deletes objects whose owners are gone, as kube-controller-
// manager's garbage collector does through ownerReferences:
//
//   - background: an object all of whose owners are gone is deleted; one that keeps an
//     owner loses its references to the gone ones;
//   - foreground: an owner deleted with propagationPolicy=Foreground carries the
//     foregroundDeletion finalizer; its dependents are deleted first, and the finalizer
//     comes off once none with blockOwnerDeletion is left;
//   - orphan: an owner deleted with propagationPolicy=Orphan carries the orphan finalizer;
//     its dependents lose their references to it, then the finalizer comes off.
//
// It watches the metadata of every kybern kind and of the native kinds kybern's
// controllers create (PersistentVolumeClaims, ControllerRevisions). Since every object is
// looked at when the collector starts, dependents of owners deleted while it was down are
// collected too. An owner is declared gone only after the apiserver itself says so.
package garbagecollector
