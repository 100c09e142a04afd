package scheduler

import (
	"context"

	toolscache "k8s.io/client-go/tools/cache"
	ctrlcache "sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/event"

	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
)

// feed registers the cache's handlers on the manager's Node and Pod informers. The
// handlers update the cache, then signal wake when the change may let a waiting pod fit,
// so a woken pod is always tried against the change. The informers start with the
// manager; synced reports when both handlers have seen every object that existed then.
func (c *cache) feed(ctx context.Context, informers ctrlcache.Informers) error {
	nodes, err := informers.GetInformer(ctx, &corev1alpha1.Node{})
	if err != nil {
		return err
	}
	pods, err := informers.GetInformer(ctx, &corev1alpha1.Pod{})
	if err != nil {
		return err
	}
	nodeReg, err := nodes.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc: func(obj any) {
			c.setNode(obj.(*corev1alpha1.Node))
			c.signal()
		},
		UpdateFunc: func(oldObj, newObj any) {
			old, cur := oldObj.(*corev1alpha1.Node), newObj.(*corev1alpha1.Node)
			c.setNode(cur)
			if nodeChangeMayFit(old, cur) {
				c.signal()
			}
		},
		DeleteFunc: func(obj any) {
			if n, ok := untombstone(obj).(*corev1alpha1.Node); ok {
				c.deleteNode(n.Name)
			}
		},
	})
	if err != nil {
		return err
	}
	podReg, err := pods.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc: func(obj any) {
			p := obj.(*corev1alpha1.Pod)
			c.setPod(p)
			if p.Spec.NodeName != "" {
				c.signal()
			}
		},
		UpdateFunc: func(oldObj, newObj any) {
			old, cur := oldObj.(*corev1alpha1.Pod), newObj.(*corev1alpha1.Pod)
			c.setPod(cur)
			if podChangeMayFit(old, cur) {
				c.signal()
			}
		},
		DeleteFunc: func(obj any) {
			if p, ok := untombstone(obj).(*corev1alpha1.Pod); ok {
				c.deletePod(p)
				if p.Spec.NodeName != "" {
					c.signal()
				}
			}
		},
	})
	if err != nil {
		return err
	}
	c.synced = func() bool { return nodeReg.HasSynced() && podReg.HasSynced() }
	return nil
}

// signal asks for every waiting pod to be tried again. A signal already pending covers
// this one: the waiting pods are read when it is handled, after this change.
func (c *cache) signal() {
	select {
	case c.wake <- event.GenericEvent{Object: &corev1alpha1.Node{}}:
	default:
	}
}

// podChangeMayFit reports whether a pod update may let a waiting pod fit: a pod bound, or
// a bound pod that finished or changed labels (affinity and spread count labels).
func podChangeMayFit(old, cur *corev1alpha1.Pod) bool {
	return cur.Spec.NodeName != "" &&
		(old.Spec.NodeName == "" || finished(old) != finished(cur) || !labelsEqual(old.Labels, cur.Labels))
}

func untombstone(obj any) any {
	if t, ok := obj.(toolscache.DeletedFinalStateUnknown); ok {
		return t.Obj
	}
	return obj
}

func labelsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}
