package volume

import (
	"context"
	"fmt"
	"sync"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Objects serves the ConfigMaps and Secrets that pods' volumes project from one watch per
// object, as the kubelet's watch-based manager does, so that refreshing a pod's files
// costs the apiserver nothing: without it, every pod with such a volume read each of its
// objects every refresh (1000 pods with a secret volume, about 100 GETs a second).
//
// A watch starts at a pod's first read of its object, selects that one object by name
// (which the node's per-object grant allows), is shared by every pod that reads it, and
// stops when the last of them is released. Until a watch has synced, reads go to the
// apiserver directly, so a pod never waits on a watch to start, and a watch the node may
// not open (a grant not made yet) costs what reads cost before. An immutable object is
// watched no more once seen: it cannot change.
type Objects struct {
	// Client opens the watches; Direct reads what no synced watch holds yet.
	Client kubernetes.Interface
	Direct client.Reader

	mu      sync.Mutex
	watches map[objectKey]*objectWatch
}

type objectKey struct {
	secret          bool
	namespace, name string
}

type objectWatch struct {
	store  cache.Store
	synced cache.InformerSynced
	stop   chan struct{}
	once   sync.Once
	pods   sets.Set[types.UID]
}

func (w *objectWatch) close() { w.once.Do(func() { close(w.stop) }) }

// ConfigMap reads the ConfigMap ns/name for the pod with uid into cm.
func (o *Objects) ConfigMap(ctx context.Context, uid types.UID, ns, name string, cm *corev1.ConfigMap) error {
	return o.get(ctx, uid, objectKey{namespace: ns, name: name}, cm)
}

// Secret reads the Secret ns/name for the pod with uid into s.
func (o *Objects) Secret(ctx context.Context, uid types.UID, ns, name string, s *corev1.Secret) error {
	return o.get(ctx, uid, objectKey{secret: true, namespace: ns, name: name}, s)
}

func (o *Objects) get(ctx context.Context, uid types.UID, key objectKey, into client.Object) error {
	w := o.watch(uid, key)
	if w.synced() {
		item, ok, err := w.store.GetByKey(key.namespace + "/" + key.name)
		if err != nil {
			return err
		}
		if !ok {
			return apierrors.NewNotFound(resourceOf(key), key.name)
		}
		return copyInto(item.(runtime.Object), into)
	}
	return o.Direct.Get(ctx, client.ObjectKey{Namespace: key.namespace, Name: key.name}, into)
}

// watch is key's watch with uid among its pods, started if none runs.
func (o *Objects) watch(uid types.UID, key objectKey) *objectWatch {
	o.mu.Lock()
	defer o.mu.Unlock()
	if w, ok := o.watches[key]; ok {
		w.pods.Insert(uid)
		return w
	}
	if o.watches == nil {
		o.watches = map[objectKey]*objectWatch{}
	}
	w := &objectWatch{stop: make(chan struct{}), pods: sets.New(uid)}
	var example runtime.Object = &corev1.ConfigMap{}
	if key.secret {
		example = &corev1.Secret{}
	}
	store, informer := cache.NewInformerWithOptions(cache.InformerOptions{
		ListerWatcher: o.listWatch(key),
		ObjectType:    example,
		Handler: cache.ResourceEventHandlerFuncs{
			AddFunc:    func(obj any) { stopIfImmutable(w, obj) },
			UpdateFunc: func(_, obj any) { stopIfImmutable(w, obj) },
		},
	})
	w.store, w.synced = store, informer.HasSynced
	o.watches[key] = w
	go informer.RunWithContext(untilClosed(w.stop))
	return w
}

// Release drops the pod with uid from the watches it read through, stopping those it was
// the last pod of.
func (o *Objects) Release(uid types.UID) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for key, w := range o.watches {
		w.pods.Delete(uid)
		if w.pods.Len() == 0 {
			w.close()
			delete(o.watches, key)
		}
	}
}

// Watching is how many objects are being watched.
func (o *Objects) Watching() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.watches)
}

// listWatch lists and watches key's object alone; it streams its list as the apiserver
// allows unless o.Client says it cannot (a fake).
func (o *Objects) listWatch(key objectKey) cache.ListerWatcher {
	selector := fields.OneTermEqualSelector("metadata.name", key.name).String()
	core := o.Client.CoreV1()
	return cache.ToListWatcherWithWatchListSemantics(&cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, opts metav1.ListOptions) (runtime.Object, error) {
			opts.FieldSelector = selector
			if key.secret {
				return core.Secrets(key.namespace).List(ctx, opts)
			}
			return core.ConfigMaps(key.namespace).List(ctx, opts)
		},
		WatchFuncWithContext: func(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
			opts.FieldSelector = selector
			if key.secret {
				return core.Secrets(key.namespace).Watch(ctx, opts)
			}
			return core.ConfigMaps(key.namespace).Watch(ctx, opts)
		},
	}, o.Client)
}

// stopIfImmutable ends w's watch once it holds an immutable object; the store keeps it.
func stopIfImmutable(w *objectWatch, obj any) {
	var immutable *bool
	switch o := obj.(type) {
	case *corev1.ConfigMap:
		immutable = o.Immutable
	case *corev1.Secret:
		immutable = o.Immutable
	}
	if immutable != nil && *immutable {
		w.close()
	}
}

func resourceOf(key objectKey) schema.GroupResource {
	if key.secret {
		return schema.GroupResource{Resource: "secrets"}
	}
	return schema.GroupResource{Resource: "configmaps"}
}

func copyInto(from runtime.Object, into client.Object) error {
	switch dst := into.(type) {
	case *corev1.ConfigMap:
		src, ok := from.(*corev1.ConfigMap)
		if !ok {
			return fmt.Errorf("watch of configmap %s held a %T", dst.Name, from)
		}
		src.DeepCopyInto(dst)
	case *corev1.Secret:
		src, ok := from.(*corev1.Secret)
		if !ok {
			return fmt.Errorf("watch of secret %s held a %T", dst.Name, from)
		}
		src.DeepCopyInto(dst)
	default:
		return fmt.Errorf("objects are ConfigMaps and Secrets, not %T", into)
	}
	return nil
}

// untilClosed is a context that ends when stop closes.
func untilClosed(stop <-chan struct{}) context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-stop
		cancel()
	}()
	return ctx
}
