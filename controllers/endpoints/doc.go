// Package endpoints is the EndpointSlice controller: it keeps the EndpointSlices of each
// Service with a selector in step with the pods the selector matches, as upstream's
// pkg/controller/endpointslice does for discovery/v1.
//
// Each pod with an IPv4 address that has not terminated is one endpoint (endpoints.go):
// ready when the pod is Ready and not terminating (always, when the Service publishes
// not-ready addresses), serving when it is Ready, terminating when it is being deleted;
// with its node, a reference to the pod, and a hostname when the pod names the Service as
// its subdomain. A Service's ports are resolved per pod: a named targetPort is looked up
// in the pod's container ports, and a pod without it has no such port. Endpoints with the
// same resolved ports share slices of at most 100 (slices.go), and an endpoint stays in the
// slice it is in, so a change of one pod rewrites one slice. A Service whose selector
// matches nothing keeps one slice without endpoints.
//
// Slices carry the labels kubernetes.io/service-name and
// endpointslice.kubernetes.io/managed-by, and the Service as controller, so the garbage
// collector deletes them with it. A slice is written only when its content changed, and
// expectations hold a Service back while the cache lags behind the slices the controller
// created or deleted. Services without a selector, and ExternalName Services, are left
// alone, their slices too.
package endpoints
