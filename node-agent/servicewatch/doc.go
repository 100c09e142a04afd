// Package servicewatch is the node agent's one view of Services and EndpointSlices,
// which the service proxy (package proxy) and the cluster DNS (package dns) both follow.
// Neither of them imports the other: each depends on this package only.
//
// OnChange (watch.go) hands a consumer every Service and EndpointSlice once the cache
// holds them, then again after every change, at most once per interval and retrying a
// failed sync after a second. SlicesByService and Ready (slices.go) read EndpointSlices
// the same way for both consumers: the IPv4 slices grouped by the Service their
// kubernetes.io/service-name label names, and an endpoint ready unless its ready
// condition is false, as discovery/v1 says to read it.
package servicewatch
