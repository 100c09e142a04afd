// Package events records the node agent's Kubernetes events: core/v1 Events about the
// pods it runs, with the kubelet's reasons, which kubectl describe and kubectl get events
// show. One broadcaster per process writes them, rate-limited as the kubelet's: its
// client at eventRecordQPS 50 with eventBurst 100, and client-go's correlator, which
// folds repeats into counts and lets each source and object burst 25 events of a type,
// then one every 5 minutes. Each node gets its own recorder, whose source is
// kybern-node-agent on that node.
package events

import (
	"context"
	"net/http"

	corev1 "k8s.io/api/core/v1"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/record"
)

// Component is the events' source component, where the kubelet says "kubelet".
const Component = "kybern-node-agent"

// The kubelet's defaults for eventRecordQPS and eventBurst.
const (
	DefaultQPS   = 50
	DefaultBurst = 100
)

// NewBroadcaster returns the process's event broadcaster, which writes through cfg and
// httpClient at most qps events a second (burst at once) until ctx ends. With qps 0 it
// returns nil: no events.
func NewBroadcaster(ctx context.Context, cfg *rest.Config, httpClient *http.Client, qps float32, burst int) (record.EventBroadcaster, error) {
	if qps <= 0 {
		return nil, nil
	}
	cfg = rest.CopyConfig(cfg)
	cfg.QPS, cfg.Burst, cfg.RateLimiter = qps, burst, nil
	c, err := corev1client.NewForConfigAndClient(cfg, httpClient)
	if err != nil {
		return nil, err
	}
	b := record.NewBroadcaster(record.WithContext(ctx))
	b.StartRecordingToSink(&corev1client.EventSinkImpl{Interface: c.Events("")})
	go func() {
		<-ctx.Done()
		b.Shutdown()
	}()
	return b, nil
}

// NewRecorder returns node's recorder on b; one that records nothing when b is nil.
func NewRecorder(b record.EventBroadcaster, scheme *k8sruntime.Scheme, node string) record.EventRecorder {
	if b == nil {
		return discard{}
	}
	return b.NewRecorder(scheme, corev1.EventSource{Component: Component, Host: node})
}

// discard is a recorder that records nothing.
type discard struct{}

func (discard) Event(k8sruntime.Object, string, string, string)          {}
func (discard) Eventf(k8sruntime.Object, string, string, string, ...any) {}
func (discard) AnnotatedEventf(k8sruntime.Object, map[string]string, string, string, string, ...any) {
}
