package testenv

import (
	"context"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
)

// NeverReadyImage is an image whose pods the Kubelet stand-in leaves pending, for tests
// of rollouts that must stall.
const NeverReadyImage = "busybox:never-ready"

// CrashLoopImage is an image whose pods the Kubelet stand-in reports Running but crash
// looping: not Ready, the first container restarted CrashLoopRestarts times and last
// exited with code 1 just now.
const CrashLoopImage = "busybox:crash-loop"

// CrashLoopRestarts is the restart count of a CrashLoopImage pod.
const CrashLoopRestarts = 5

// Kubelet plays the node agent in envtest suites, for one namespace: every bound pod that
// has no phase yet becomes Running and Ready, unless its first container runs
// NeverReadyImage or CrashLoopImage. A phase a test sets (Failed, say) is left alone.
type Kubelet struct {
	stop context.CancelFunc
	done sync.WaitGroup
}

// StartKubelet runs a Kubelet for namespace ns until Stop or until ctx ends.
func StartKubelet(ctx context.Context, c client.Client, ns string) *Kubelet {
	ctx, stop := context.WithCancel(ctx)
	k := &Kubelet{stop: stop}
	k.done.Go(func() {
		for ctx.Err() == nil {
			var pods corev1alpha1.PodList
			if err := c.List(ctx, &pods, client.InNamespace(ns)); err == nil {
				for i := range pods.Items {
					p := &pods.Items[i]
					if p.Spec.NodeName == "" || p.DeletionTimestamp != nil || p.Status.Phase != "" ||
						p.Spec.Containers[0].Image == NeverReadyImage {
						continue
					}
					// A pod that changed meanwhile is taken up in the next round.
					if p.Spec.Containers[0].Image == CrashLoopImage {
						_ = MarkCrashLooping(ctx, c, p)
					} else {
						_ = MarkReady(ctx, c, p)
					}
				}
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
	return k
}

// Stop ends the Kubelet and waits for it.
func (k *Kubelet) Stop() {
	k.stop()
	k.done.Wait()
}

// MarkReady makes p Running and Ready since now, failing if p changed since it was read.
func MarkReady(ctx context.Context, c client.Client, p *corev1alpha1.Pod) error {
	orig := p.DeepCopy()
	p.Status.Phase = corev1.PodRunning
	p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: metav1.Now()}}
	return c.Status().Patch(ctx, p, client.MergeFromWithOptions(orig, client.MergeFromWithOptimisticLock{}))
}

// MarkCrashLooping makes p Running but unready, its first container crash looping as a
// CrashLoopImage pod's, failing if p changed since it was read.
func MarkCrashLooping(ctx context.Context, c client.Client, p *corev1alpha1.Pod) error {
	orig := p.DeepCopy()
	now := metav1.Now()
	p.Status.Phase = corev1.PodRunning
	p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionFalse, Reason: "ContainersNotReady", LastTransitionTime: now}}
	p.Status.ContainerStatuses = []corev1.ContainerStatus{{
		Name: p.Spec.Containers[0].Name, Image: CrashLoopImage, RestartCount: CrashLoopRestarts,
		State:                corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}},
		LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 1, Reason: "Error", StartedAt: now, FinishedAt: now}},
	}}
	return c.Status().Patch(ctx, p, client.MergeFromWithOptions(orig, client.MergeFromWithOptimisticLock{}))
}
