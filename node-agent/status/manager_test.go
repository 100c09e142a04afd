package status

import (
	"context"
	"testing"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
)

// A status read back from the apiserver has its times cut to the second; the same status
// computed again with nanoseconds must not be written a second time.
func TestWritesAStatusOnceDespiteTimePrecision(t *testing.T) {
	scheme := k8sruntime.NewScheme()
	if err := corev1alpha1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	pod := &corev1alpha1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "p", UID: "u"}}
	writes := 0
	c := fake.NewClientBuilder().WithScheme(scheme).WithObjects(pod).WithStatusSubresource(&corev1alpha1.Pod{}).
		WithInterceptorFuncs(interceptor.Funcs{SubResourcePatch: func(ctx context.Context, c client.Client, sub string, o client.Object, p client.Patch, opts ...client.SubResourcePatchOption) error {
			writes++
			return c.SubResource(sub).Patch(ctx, o, p, opts...)
		}}).Build()
	m := NewManager(c, logr.Discard(), 1)
	at := metav1.NewTime(time.Date(2026, 1, 1, 0, 0, 0, 123456789, time.UTC))
	status := corev1.PodStatus{Phase: corev1.PodRunning, StartTime: &at,
		Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: at}}}

	m.Set(pod, status)
	m.flush(context.Background())
	readBack := &corev1alpha1.Pod{}
	if err := c.Get(context.Background(), client.ObjectKeyFromObject(pod), readBack); err != nil {
		t.Fatal(err)
	}
	// The worker keeps a condition's transition time from the pod it read back.
	again := *status.DeepCopy()
	again.Conditions[0].LastTransitionTime = readBack.Status.Conditions[0].LastTransitionTime
	m.Set(readBack, again)
	m.flush(context.Background())
	if writes != 1 {
		t.Fatalf("%d status writes for one status, want 1", writes)
	}
}
