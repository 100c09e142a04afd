package job

import (
	"context"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/record"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	batchv1alpha1 "github.com/kybern/kybern/api/batch/v1alpha1"
	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
)

// A pod whose tracking finalizer an earlier reconcile removed, and which that reconcile
// counted, is counted once even when the removal's event arrives while the pods are being
// read: the read gives the stale pod, finalizer and all, and the removal is no longer
// pending once it is observed. Found under load: a 90-completion Job completed with pods
// that never ran. Without the race the same stale pod is simply skipped as pending.
func TestFinishedPodCountedOnceWhenItsFinalizerRemovalIsSeenDuringTheRead(t *testing.T) {
	for _, race := range []bool{true, false} {
		scheme := runtime.NewScheme()
		if err := batchv1alpha1.AddToScheme(scheme); err != nil {
			t.Fatal(err)
		}
		if err := corev1alpha1.AddToScheme(scheme); err != nil {
			t.Fatal(err)
		}
		job := &batchv1alpha1.Job{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "work", UID: "job-uid"},
			Spec: batchv1.JobSpec{Completions: ptr.To[int32](3), Parallelism: ptr.To[int32](1),
				Selector: &metav1.LabelSelector{MatchLabels: map[string]string{batchv1.ControllerUidLabel: "job-uid"}},
				Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{batchv1.ControllerUidLabel: "job-uid"}},
					Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever, Containers: []corev1.Container{{Name: "c", Image: "busybox"}}}}},
			// The earlier reconcile moved the pod into the counter.
			Status: batchv1.JobStatus{Succeeded: 1, UncountedTerminatedPods: &batchv1.UncountedTerminatedPods{},
				StartTime: &metav1.Time{Time: time.Unix(900, 0)}}}
		pod := &corev1alpha1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "work-a", UID: "pod-a",
			Labels:     map[string]string{batchv1.ControllerUidLabel: "job-uid"},
			Finalizers: []string{batchv1.JobTrackingFinalizer},
			OwnerReferences: []metav1.OwnerReference{{APIVersion: batchv1alpha1.GroupVersion.String(), Kind: "Job",
				Name: "work", UID: "job-uid", Controller: ptr.To(true), BlockOwnerDeletion: ptr.To(true)}}},
			Spec:   corev1.PodSpec{NodeName: "n1", Containers: []corev1.Container{{Name: "c", Image: "busybox"}}},
			Status: corev1.PodStatus{Phase: corev1.PodSucceeded}}

		key := types.NamespacedName{Namespace: "ns", Name: "work"}
		var r *Reconciler
		var stale *corev1alpha1.Pod
		c := fake.NewClientBuilder().WithScheme(scheme).WithStatusSubresource(&batchv1alpha1.Job{}).
			WithObjects(job, pod).WithInterceptorFuncs(interceptor.Funcs{
			List: func(ctx context.Context, c client.WithWatch, list client.ObjectList, opts ...client.ListOption) error {
				pods, ok := list.(*corev1alpha1.PodList)
				if !ok || stale == nil {
					return c.List(ctx, list, opts...)
				}
				if race {
					// The informer stores the finalizer removal and runs its handler
					// just after this read.
					r.trackingFinalizerChanged(key, &corev1alpha1.Pod{ObjectMeta: metav1.ObjectMeta{UID: stale.UID}}, false)
				}
				pods.Items = []corev1alpha1.Pod{*stale.DeepCopy()}
				return nil
			},
		}).Build()
		r = NewReconciler(c, c, record.NewFakeRecorder(100), clocktesting.NewFakePassiveClock(time.Unix(1000, 0)))

		// The earlier reconcile removed the finalizer; the cache still has the pod before.
		stale = &corev1alpha1.Pod{}
		if err := c.Get(context.Background(), client.ObjectKeyFromObject(pod), stale); err != nil {
			t.Fatal(err)
		}
		released := stale.DeepCopy()
		released.Finalizers = nil
		if err := c.Update(context.Background(), released); err != nil {
			t.Fatal(err)
		}
		r.finalizers.expect(key.String(), pod.UID)

		_, _ = r.Reconcile(context.Background(), ctrl.Request{NamespacedName: key})

		got := &batchv1alpha1.Job{}
		if err := c.Get(context.Background(), key, got); err != nil {
			t.Fatal(err)
		}
		if u := got.Status.UncountedTerminatedPods; got.Status.Succeeded != 1 || (u != nil && len(u.Succeeded) != 0) {
			t.Errorf("race=%v: succeeded %d, uncounted %v; want 1 and none: the pod was counted again", race, got.Status.Succeeded, u)
		}
	}
}
