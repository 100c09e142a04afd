package node

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/tools/cache"
	watchtools "k8s.io/client-go/tools/watch"

	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
	"github.com/kybern/kybern/kubectl-kybern/cmd/cli"
)

// awaitGone waits until every one of pods is gone, or replaced by a pod of another UID
// with its name, printing "pod/<name> deleted" as each goes. A pod deleted longer than
// --skip-wait-for-delete-timeout ago is not waited for. It watches the node's pods,
// relisting should the watch break, until --timeout.
func (o *drainOptions) awaitGone(ctx context.Context, node string, pods []*corev1alpha1.Pod) error {
	pending := map[string]types.UID{}
	for _, p := range pods {
		pending[p.Namespace+"/"+p.Name] = p.UID
	}
	dyn, err := o.factory.Dynamic()
	if err != nil {
		return err
	}
	byNode := fields.OneTermEqualSelector("spec.nodeName", node).String()
	resource := dyn.Resource(cli.Pod.GVR())
	lw := cli.FieldListWatch(resource, byNode)
	if o.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.timeout)
		defer cancel()
	}
	skip := filters{skipWaitForDeleteTimeout: time.Duration(o.skipWaitForDeleteTimeout) * time.Second}
	gone := func(key string) {
		delete(pending, key)
		_, name, _ := strings.Cut(key, "/")
		fmt.Fprintf(o.streams.Out, "%s deleted\n", cli.Pod.ObjectName(name))
	}
	// seen settles the pending pod obj names, deleted or not.
	seen := func(obj *unstructured.Unstructured, deleted bool) {
		key := obj.GetNamespace() + "/" + obj.GetName()
		uid, ok := pending[key]
		switch {
		case !ok:
		case deleted || obj.GetUID() != uid:
			gone(key)
		default:
			skip.now = time.Now()
			if skip.deletedLongAgo(obj.GetDeletionTimestamp()) {
				fmt.Fprintf(o.streams.Out, "pod %q has DeletionTimestamp older than %v seconds, skipping\n", obj.GetName(), o.skipWaitForDeleteTimeout)
				delete(pending, key)
			}
		}
	}
	precondition := func(store cache.Store) (bool, error) {
		keys := make([]string, 0, len(pending))
		for key := range pending {
			keys = append(keys, key)
		}
		slices.Sort(keys)
		for _, key := range keys {
			item, exists, err := store.GetByKey(key)
			switch {
			case err != nil:
				return false, err
			case !exists:
				gone(key)
			default:
				seen(item.(*unstructured.Unstructured), false)
			}
		}
		return len(pending) == 0, nil
	}
	_, err = watchtools.UntilWithSync(ctx, lw, &unstructured.Unstructured{}, precondition, func(e watch.Event) (bool, error) {
		if obj, ok := e.Object.(*unstructured.Unstructured); ok {
			seen(obj, e.Type == watch.Deleted)
		}
		return len(pending) == 0, nil
	})
	if err != nil && errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("drain did not complete within %v", o.timeout)
	}
	return err
}
