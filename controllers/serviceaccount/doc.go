// Package serviceaccount holds the two controllers that give every namespace what a pod's
// service account volume needs, as kube-controller-manager's do on a real cluster:
//
//   - serviceaccount (accounts.go) keeps a ServiceAccount named "default" in every active
//     namespace, which pods that name none run as;
//   - root-ca-cert-publisher (rootca.go) keeps the ConfigMap kube-root-ca.crt, whose ca.crt
//     is the CA that pods verify the apiserver with, in every active namespace.
//
// Both are off unless --controllers names them: kube-controller-manager already runs them
// on a real cluster, and kybern's local control plane (make run, the tests) has none.
package serviceaccount
