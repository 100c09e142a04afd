package scheduler

import (
	"context"
	"fmt"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/sets"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
)

// assumeTTL bounds how long a bind the informer has not shown counts against its node:
// long enough for any watch to deliver it, short enough that a pod created and deleted
// while the watch was down does not hold capacity for long.
const assumeTTL = 30 * time.Second

// cache is the scheduler's view of the cluster, fed by informer events so that a decision
// lists nothing: every node, the pods counted against each (bound pods the informer shows
// until they finish or go, and pods assumed bound ahead of it), and the pods that fit
// nowhere at their last try. Its methods take mu; a decision holds it throughout, so that
// each decision sees the binds of the ones before it.
type cache struct {
	mu    sync.Mutex
	nodes map[string]*nodeInfo
	// podNode is where each counted pod is counted, by UID (or reservation key).
	podNode map[types.UID]string
	// assumed are the counted pods the informer has not shown bound yet, with the time
	// their assumption lapses.
	assumed map[types.UID]time.Time
	// waiting are the pods that fit nowhere at their last try.
	waiting sets.Set[types.NamespacedName]
	// reservations numbers the keys of pods reserved before they exist.
	reservations int
	// claims are the nodes this scheduler selected for PersistentVolumeClaims, which
	// count before the informer shows the claims annotated.
	claims map[types.NamespacedName]string
	// claimEvents counts the claim events seen. A decision reads claims before it takes mu,
	// so it compares this count to tell whether one came in between and woke nobody.
	claimEvents uint64

	// wake receives when a change may let a waiting pod fit; it holds one signal at most.
	wake chan event.GenericEvent
	// synced reports whether the informers have fed the cache every object that existed
	// when they started; set by feed.
	synced func() bool
}

func newCache() *cache {
	return &cache{nodes: map[string]*nodeInfo{}, podNode: map[types.UID]string{}, assumed: map[types.UID]time.Time{},
		claims: map[types.NamespacedName]string{}, waiting: sets.New[types.NamespacedName](), wake: make(chan event.GenericEvent, 1), synced: func() bool { return true }}
}

// setNode records n's current state.
func (c *cache) setNode(n *corev1alpha1.Node) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if ni, ok := c.nodes[n.Name]; ok {
		ni.node = n
		return
	}
	c.nodes[n.Name] = newNodeInfo(n)
}

// deleteNode forgets node name, keeping its pods counted until they go.
func (c *cache) deleteNode(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if ni, ok := c.nodes[name]; ok {
		ni.node = nil
		if len(ni.pods) == 0 {
			delete(c.nodes, name)
		}
	}
}

// setPod records p's current state: counted against its node while bound and not
// finished, a confirmation of its assumed bind if there was one, dropped otherwise.
func (c *cache) setPod(p *corev1alpha1.Pod) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if p.Spec.NodeName == "" {
		return
	}
	key := types.NamespacedName{Namespace: p.Namespace, Name: p.Name}
	c.waiting.Delete(key)
	if finished(p) {
		c.remove(p.UID)
		return
	}
	delete(c.assumed, p.UID)
	c.count(p.UID, p.Spec.NodeName, p)
}

// deletePod stops counting p and forgets it was waiting.
func (c *cache) deletePod(p *corev1alpha1.Pod) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.waiting.Delete(types.NamespacedName{Namespace: p.Namespace, Name: p.Name})
	c.remove(p.UID)
}

// count counts p, under key, against node, moving it from wherever it was counted.
// Callers hold mu.
func (c *cache) count(key types.UID, node string, p *corev1alpha1.Pod) {
	if prev, ok := c.podNode[key]; ok && prev != node {
		c.remove(key)
	}
	ni, ok := c.nodes[node]
	if !ok {
		ni = newNodeInfo(nil)
		c.nodes[node] = ni
	}
	if p.UID != key {
		p = p.DeepCopy()
		p.UID = key
	}
	ni.add(p)
	c.podNode[key] = node
}

// remove stops counting the pod under key. Callers hold mu.
func (c *cache) remove(key types.UID) {
	node, ok := c.podNode[key]
	if !ok {
		return
	}
	delete(c.podNode, key)
	delete(c.assumed, key)
	if ni := c.nodes[node]; ni != nil {
		ni.remove(key)
		if ni.node == nil && len(ni.pods) == 0 {
			delete(c.nodes, node)
		}
	}
}

// assume counts p against node ahead of the informer. Callers hold mu.
func (c *cache) assume(key types.UID, p *corev1alpha1.Pod, node string, now time.Time) {
	bound := p.DeepCopy()
	bound.Spec.NodeName = node
	c.count(key, node, bound)
	c.assumed[key] = now.Add(assumeTTL)
}

// forget drops an assumption whose bind or create failed.
func (c *cache) forget(key types.UID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.assumed[key]; ok {
		c.remove(key)
	}
}

// reservationKey returns a key for a pod that does not exist yet. Callers hold mu.
func (c *cache) reservationKey() types.UID {
	c.reservations++
	return types.UID(fmt.Sprintf("reservation-%d", c.reservations))
}

// created moves a reservation to the UID of the pod created from it. If the informer
// showed the pod first, the pod is counted already and the reservation only goes.
func (c *cache) created(key types.UID, p *corev1alpha1.Pod) {
	c.mu.Lock()
	defer c.mu.Unlock()
	deadline, ok := c.assumed[key]
	if !ok {
		return
	}
	c.remove(key)
	if _, seen := c.podNode[p.UID]; !seen {
		c.count(p.UID, p.Spec.NodeName, p)
		c.assumed[p.UID] = deadline
	}
}

// candidates returns every node's info after dropping lapsed assumptions. Callers hold
// mu, and the infos are theirs only while they do.
func (c *cache) candidates(now time.Time) []*nodeInfo {
	for key, deadline := range c.assumed {
		if now.After(deadline) {
			c.remove(key)
		}
	}
	out := make([]*nodeInfo, 0, len(c.nodes))
	for _, ni := range c.nodes {
		out = append(out, ni)
	}
	return out
}

// claimChanged counts a claim event and returns requests for the waiting pods.
func (c *cache) claimChanged(ctx context.Context, o client.Object) []reconcile.Request {
	c.mu.Lock()
	c.claimEvents++
	c.mu.Unlock()
	return c.waitingPods(ctx, o)
}

// claimEventsSeen is how many claim events the cache has counted.
func (c *cache) claimEventsSeen() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.claimEvents
}

// waitingPods returns requests for the pods that fit nowhere at their last try.
func (c *cache) waitingPods(context.Context, client.Object) []reconcile.Request {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]reconcile.Request, 0, c.waiting.Len())
	for key := range c.waiting {
		out = append(out, reconcile.Request{NamespacedName: key})
	}
	return out
}

// finished reports whether a pod no longer takes anything from its node. A pod being
// deleted still does until it is gone, as upstream's scheduler counts it.
func finished(p *corev1alpha1.Pod) bool {
	return p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed
}

// nodeChangeMayFit reports whether a node update may let a waiting pod fit: anything but
// a heartbeat-only status change.
func nodeChangeMayFit(old, cur *corev1alpha1.Node) bool {
	return !equality.Semantic.DeepEqual(old.Labels, cur.Labels) ||
		!equality.Semantic.DeepEqual(old.Spec, cur.Spec) ||
		!equality.Semantic.DeepEqual(old.Status.Allocatable, cur.Status.Allocatable) ||
		nodeReady(old) != nodeReady(cur)
}
