// Package nodeauthorizer is kybern's Node authorizer, rebuilt so that it works on any
// conformant cluster without apiserver flags: a node agent may read only the Secrets,
// ConfigMaps and PersistentVolumeClaims that pods bound to its node use, and request
// tokens only for their service accounts, and loses them when those pods go.
//
// For each node and each namespace holding pods bound to it, the controller keeps a Role
// kybern:node:<node> whose rules name those objects (resourceNames) and a RoleBinding of
// the same name for user kybern:node:<node>; a namespace left without such pods loses
// both. grants.go computes the Roles from the pods (pure, table-tested, with upstream's
// pod reference visitors), nodeauthorizer_controller.go reconciles one node at a time,
// woken by its pods and by changes to its grants.
package nodeauthorizer
