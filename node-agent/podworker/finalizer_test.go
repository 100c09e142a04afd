package podworker

import (
	"context"
	"slices"
	"testing"

	"github.com/go-logr/logr"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
)

// TestReleasePod: the finalizer is removed from the pod as it is now, read again after a
// conflict, and never from a pod that replaced it under the same name.
func TestReleasePod(t *testing.T) {
	scheme := k8sruntime.NewScheme()
	if err := corev1alpha1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	pod := func(uid string) *corev1alpha1.Pod {
		return &corev1alpha1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "p", UID: types.UID("uid-" + uid),
			Finalizers: []string{corev1alpha1.NodeAgentFinalizer, "example.com/other"}}}
	}
	for _, tc := range []struct {
		name string
		// change is what happens to the pod between the worker's read and its patch.
		change       func(ctx context.Context, t *testing.T, c client.Client)
		wantReleased bool
		// wantLabel is the label change made meanwhile, which the release keeps.
		wantLabel string
	}{
		{name: "unchanged", change: func(context.Context, *testing.T, client.Client) {}, wantReleased: true},
		{name: "labelled meanwhile: read again, released, the label kept", wantReleased: true, wantLabel: "yes",
			change: func(ctx context.Context, t *testing.T, c client.Client) {
				p := &corev1alpha1.Pod{}
				if err := c.Get(ctx, client.ObjectKey{Namespace: "ns", Name: "p"}, p); err != nil {
					t.Fatal(err)
				}
				p.Labels = map[string]string{"changed": "yes"}
				if err := c.Update(ctx, p); err != nil {
					t.Fatal(err)
				}
			}},
		{name: "replaced by a pod of the same name: that one keeps its finalizer",
			change: func(ctx context.Context, t *testing.T, c client.Client) {
				p := &corev1alpha1.Pod{}
				if err := c.Get(ctx, client.ObjectKey{Namespace: "ns", Name: "p"}, p); err != nil {
					t.Fatal(err)
				}
				if err := c.Delete(ctx, p); err != nil {
					t.Fatal(err)
				}
				if err := c.Get(ctx, client.ObjectKeyFromObject(p), p); err != nil {
					t.Fatal(err)
				}
				p.Finalizers = nil
				if err := c.Update(ctx, p); client.IgnoreNotFound(err) != nil {
					t.Fatal(err)
				}
				if err := c.Create(ctx, pod("new")); err != nil {
					t.Fatal(err)
				}
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			read := pod("old")
			api := fake.NewClientBuilder().WithScheme(scheme).WithObjects(read.DeepCopy()).Build()
			if err := api.Get(ctx, client.ObjectKeyFromObject(read), read); err != nil {
				t.Fatal(err)
			}
			tc.change(ctx, t, api)
			patches := 0
			counted := interceptor.NewClient(api, interceptor.Funcs{Patch: func(ctx context.Context, c client.WithWatch, obj client.Object, patch client.Patch, opts ...client.PatchOption) error {
				patches++
				return c.Patch(ctx, obj, patch, opts...)
			}})
			w := New(&Env{Client: counted}, read, logr.Discard())
			if err := w.releasePod(ctx, read); err != nil {
				t.Fatal(err)
			}
			now := &corev1alpha1.Pod{}
			if err := api.Get(ctx, client.ObjectKeyFromObject(read), now); err != nil {
				t.Fatal(err)
			}
			released := !slices.Contains(now.Finalizers, corev1alpha1.NodeAgentFinalizer)
			if released != tc.wantReleased || !slices.Contains(now.Finalizers, "example.com/other") {
				t.Fatalf("finalizers %v after %d patches: want the agent's released %v and the other kept", now.Finalizers, patches, tc.wantReleased)
			}
			if now.Labels["changed"] != tc.wantLabel {
				t.Fatalf("the change made meanwhile is lost: %v", now.Labels)
			}
		})
	}
}
