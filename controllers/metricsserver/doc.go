// Package metricsserver is kybern's metrics-server: it scrapes every node agent's
// /metrics/resource (the kubelet's resource metrics) each --metric-resolution, turns the
// cumulative CPU counters into rates (usage.go), keeps the latest usage in a
// resourcemetrics.Store for the autoscaler, and serves it as the aggregated API
// metrics.kybern.io/v1beta1 (api.go), shaped as metrics.k8s.io, so that
// `kubectl get --raw` and `kubectl kybern top` read it the standard way.
//
//   - scrape.go: the scrape loop, one node agent at a time per worker;
//   - parse.go: the kubelet's Prometheus text, read into samples;
//   - usage.go: samples to PodMetrics and NodeMetrics, metrics-server's rules;
//   - api.go, table.go: the API's discovery, get and list, and kubectl's tables;
//   - auth.go: callers authenticated as the apiserver's front proxy, authorised by
//     SubjectAccessReview;
//   - registration.go: the APIService that points the apiserver at this manager.
package metricsserver
