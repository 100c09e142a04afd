// Package certificates issues node agents their client certificates, as kubelet TLS
// bootstrapping does upstream:
//
//   - approver.go: the csrapproving controller. It approves a CertificateSigningRequest
//     for identity kybern:node:<node> in group kybern:nodes (signer
//     kubernetes.io/kube-apiserver-client, client usages only, no subject alternative
//     names) when the node itself asks to renew, or when a bootstrap identity (group
//     system:bootstrappers) asks for a node name no live node holds (no Lease renewed
//     within the node monitor grace period); it denies a bootstrap request for a live
//     node's name, saying why, and leaves every other request to others.
//   - signer.go: the csrsigning controller. Given the cluster CA (--cluster-signing-cert-file
//     and --cluster-signing-key-file, as kube-controller-manager's), it signs approved
//     kubernetes.io/kube-apiserver-client requests, for --cluster-signing-duration at most.
//     On a cluster whose own controller manager signs, leave the files unset.
//   - decide.go: the approver's rules, as a pure function with table tests.
package certificates
