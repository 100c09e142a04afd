package servicewatch

import (
	"context"
	"fmt"
	"time"

	"github.com/go-logr/logr"
	toolscache "k8s.io/client-go/tools/cache"
	ctrlcache "sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
)

// The watch reads every Service and EndpointSlice, as kube-proxy and upstream's cluster
// DNS do.
// +kubebuilder:rbac:groups=core.kybern.io,resources=services;endpointslices,verbs=list;watch

// SyncFunc takes every Service and EndpointSlice the cache holds.
type SyncFunc func(ctx context.Context, services []corev1alpha1.Service, slices []corev1alpha1.EndpointSlice) error

// OnChange calls sync with every Service and EndpointSlice once cache has them, then
// after every change to them until ctx ends: changes within minInterval of a sync are
// taken up together by the next one, and a failed sync is retried after a second.
// The caller runs cache.
func OnChange(ctx context.Context, cache ctrlcache.Cache, minInterval time.Duration, log logr.Logger, sync SyncFunc) error {
	wake := make(chan struct{}, 1)
	notify := func() {
		select {
		case wake <- struct{}{}:
		default:
		}
	}
	handler := toolscache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { notify() },
		UpdateFunc: func(any, any) { notify() },
		DeleteFunc: func(any) { notify() },
	}
	for _, obj := range []client.Object{&corev1alpha1.Service{}, &corev1alpha1.EndpointSlice{}} {
		inf, err := cache.GetInformer(ctx, obj)
		if err != nil {
			return fmt.Errorf("watching %T: %w", obj, err)
		}
		if _, err := inf.AddEventHandler(handler); err != nil {
			return err
		}
	}
	if !cache.WaitForCacheSync(ctx) {
		return ctx.Err()
	}
	notify()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-wake:
		}
		if err := listAndSync(ctx, cache, sync); err != nil {
			log.Error(err, "Sync failed; retrying in a second")
			time.AfterFunc(time.Second, notify)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(minInterval):
		}
	}
}

func listAndSync(ctx context.Context, r client.Reader, sync SyncFunc) error {
	var services corev1alpha1.ServiceList
	if err := r.List(ctx, &services); err != nil {
		return err
	}
	var slices corev1alpha1.EndpointSliceList
	if err := r.List(ctx, &slices); err != nil {
		return err
	}
	return sync(ctx, services.Items, slices.Items)
}
