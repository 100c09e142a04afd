// Package admission is the manager's admission webhook: what the apiserver asks the
// manager before it stores a kybern object.
//
//   - handler.go: one handler for every request: validation first, then Pod Security.
//     The validation is controllers/internal/specvalidation's: upstream's own, of the kind
//     whose spec a kybern kind reuses, so the rules and messages are upstream's.
//   - podsecurity.go: the Pod Security Standards (privileged, baseline, restricted) with
//     upstream's namespace labels and messages, for kybern Pods (enforce, warn, audit) and
//     the pod templates of every workload kind (warn, audit), as the apiserver's own
//     PodSecurity admission does for core Pods. The checks are upstream's library,
//     k8s.io/pod-security-admission, fed kybern objects; metrics.go counts its decisions.
//   - serviceaccount.go: the mutation of new Pods, as upstream's ServiceAccount admission
//     plugin: their account, and the projected volume with its token, CA and namespace.
//   - certs.go: the webhook's serving certificate, self-signed at start unless one is given.
//   - registration.go: the Validating- and MutatingWebhookConfiguration that send the
//     requests here, kept current by the manager with its certificate authority.
//   - options.go: the manager flags that configure it, New and Register.
package admission
