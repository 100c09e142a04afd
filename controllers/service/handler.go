package service

import (
	"context"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
)

type queue = workqueue.TypedRateLimitingInterface[reconcile.Request]

// serviceEvents wakes a Service on every change; on its deletion it releases what the
// Service held and wakes the Services that wait for a free address or port.
type serviceEvents struct {
	release func(key string) []string
}

func (h *serviceEvents) Create(_ context.Context, e event.TypedCreateEvent[client.Object], q queue) {
	q.Add(reconcile.Request{NamespacedName: client.ObjectKeyFromObject(e.Object)})
}

func (h *serviceEvents) Update(_ context.Context, e event.TypedUpdateEvent[client.Object], q queue) {
	q.Add(reconcile.Request{NamespacedName: client.ObjectKeyFromObject(e.ObjectNew)})
}

func (h *serviceEvents) Delete(_ context.Context, e event.TypedDeleteEvent[client.Object], q queue) {
	for _, key := range h.release(client.ObjectKeyFromObject(e.Object).String()) {
		if ns, name, err := cache.SplitMetaNamespaceKey(key); err == nil {
			q.Add(reconcile.Request{NamespacedName: types.NamespacedName{Namespace: ns, Name: name}})
		}
	}
}

func (h *serviceEvents) Generic(_ context.Context, e event.TypedGenericEvent[client.Object], q queue) {
	q.Add(reconcile.Request{NamespacedName: client.ObjectKeyFromObject(e.Object)})
}
