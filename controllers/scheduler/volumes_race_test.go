package scheduler

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clocktesting "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
)

// A claim the informer delivers while a pod's claims are being read must not leave the pod
// waiting for the slow retry: the event's handler ran before the pod was waiting, so the
// decision wakes the waiting pods itself. Without an event in between, nothing is woken.
func TestDecideWakesWaitingPodsOnAClaimEventItRaced(t *testing.T) {
	for _, race := range []bool{true, false} {
		scheme := runtime.NewScheme()
		if err := corev1.AddToScheme(scheme); err != nil {
			t.Fatal(err)
		}
		if err := corev1alpha1.AddToScheme(scheme); err != nil {
			t.Fatal(err)
		}
		r := NewReconciler(nil, nil, clocktesting.NewFakePassiveClock(time.Unix(1000, 0)))
		r.Client = fake.NewClientBuilder().WithScheme(scheme).WithInterceptorFuncs(interceptor.Funcs{
			Get: func(ctx context.Context, c client.WithWatch, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
				if _, ok := obj.(*corev1.PersistentVolumeClaim); ok && race {
					// The informer stores the claim and runs its handler just after this read.
					r.cache.claimChanged(ctx, obj)
				}
				return c.Get(ctx, key, obj, opts...)
			},
		}).Build()
		p := pod("100m")
		p.Namespace, p.Name = "apps", "db-0"
		p.Spec.Volumes = []corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{
			PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "data-db-0"}}}}

		node, _, why, err := r.decide(context.Background(), p, "uid")
		if err != nil || node != "" || why == "" {
			t.Fatalf("race=%v: decide = %q, %q, %v; want no node, a reason, no error", race, node, why, err)
		}
		woken := len(r.cache.wake) == 1
		if woken != race {
			t.Errorf("race=%v: waiting pods woken = %v, want %v", race, woken, race)
		}
	}
}
