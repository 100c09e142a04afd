package nodelifecycle

import (
	"context"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
)

// A node's grace period runs from when the controller saw its Lease renewed, whatever
// time the renewal carries: a control plane back from an hour away does not find every
// node an hour late.
func TestHeartbeatCountsFromWhenTheRenewalWasSeen(t *testing.T) {
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	if err := corev1alpha1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 12, 3, 13, 0, 0, 0, time.UTC)
	lease := &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Namespace: LeaseNamespace, Name: "n"},
		Spec: coordinationv1.LeaseSpec{RenewTime: &metav1.MicroTime{Time: now.Add(-time.Hour)}}}
	c := fake.NewClientBuilder().WithScheme(scheme).WithObjects(lease).Build()
	r := &Reconciler{Client: c}
	node := &corev1alpha1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n"}}
	ctx := context.Background()
	seen := func(at time.Time) time.Time {
		t.Helper()
		got, err := r.lastHeartbeat(ctx, node, at)
		if err != nil {
			t.Fatal(err)
		}
		return got
	}

	if got := seen(now); !got.Equal(now) {
		t.Fatalf("a renewal an hour old, first read now: seen at %s, want now", got)
	}
	if got := seen(now.Add(time.Minute)); !got.Equal(now) {
		t.Fatalf("the same renewal a minute later: seen at %s, want when it was first read", got)
	}
	lease.Spec.RenewTime = &metav1.MicroTime{Time: now.Add(-30 * time.Minute)}
	if err := c.Update(ctx, lease); err != nil {
		t.Fatal(err)
	}
	if got, want := seen(now.Add(2*time.Minute)), now.Add(2*time.Minute); !got.Equal(want) {
		t.Fatalf("a new renewal: seen at %s, want %s", got, want)
	}
	if err := c.Delete(ctx, lease); err != nil {
		t.Fatal(err)
	}
	if got, want := seen(now.Add(3*time.Minute)), now.Add(3*time.Minute); !got.Equal(want) {
		t.Fatalf("the Lease gone: seen at %s, want when its absence was first read, %s", got, want)
	}
	if got, want := seen(now.Add(4*time.Minute)), now.Add(3*time.Minute); !got.Equal(want) {
		t.Fatalf("still no Lease: seen at %s, want %s", got, want)
	}
}
