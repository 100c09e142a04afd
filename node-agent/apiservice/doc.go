// Package apiservice gives a node's pods the apiserver at the kubernetes Service, as the
// kubelet and kube-proxy do upstream, so that in-cluster clients (client-go's
// InClusterConfig) work unchanged:
//
//   - service.go reads the core Service default/kubernetes, which the apiserver keeps, and
//     turns it into the KUBERNETES_SERVICE_* and KUBERNETES_PORT_* variables of every
//     container and the record kubernetes.default.svc of the cluster DNS;
//   - relay.go serves the Service's cluster IP and port on the node: an nftables rule sends
//     what the node's pods send there to a TCP relay on the pod network's gateway, which
//     forwards it to the apiserver at the address the agent itself reaches it by. A relay,
//     not a DNAT to the apiserver's endpoints, because a local control plane (make run)
//     listens on the host's loopback, which no DNAT from a pod can reach. The bytes are
//     TLS between the pod and the apiserver: the relay sees no credential.
package apiservice
