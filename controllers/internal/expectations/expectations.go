// Package expectations gates a controller while its informer cache lags behind its own
// writes. Before creating n children a controller expects n creations; before deleting, it
// expects the deletion of each child by key. Its event handlers observe each as the watch
// delivers it, and the controller acts again only when everything it expected was seen, or
// when the expectations expire (a watch event can be lost), so that a stale cache never
// causes a double create or a double delete.
package expectations

import (
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/utils/clock"
)

// DefaultTTL is how long unmet expectations hold a controller back, as upstream's.
const DefaultTTL = 5 * time.Minute

// Expectations are the pending creations and deletions of each controller object, by key.
// It is safe for concurrent use.
type Expectations struct {
	clock clock.PassiveClock
	ttl   time.Duration

	mu      sync.Mutex
	pending map[string]*pending
}

type pending struct {
	creations int
	deletions sets.Set[string]
	since     time.Time
}

// New returns empty expectations that expire after ttl on clk.
func New(clk clock.PassiveClock, ttl time.Duration) *Expectations {
	return &Expectations{clock: clk, ttl: ttl, pending: map[string]*pending{}}
}

// Satisfied reports whether the controller of key may act: nothing is pending, or what
// is pending has waited longer than the TTL.
func (e *Expectations) Satisfied(key string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	p, ok := e.pending[key]
	if !ok {
		return true
	}
	if p.creations <= 0 && p.deletions.Len() == 0 {
		return true
	}
	return e.clock.Since(p.since) > e.ttl
}

// ExpectCreations records that the controller of key is about to create n children,
// replacing what was expected before.
func (e *Expectations) ExpectCreations(key string, n int) { e.Expect(key, n, nil) }

// ExpectDeletions records that the controller of key is about to delete the children with
// these keys, replacing what was expected before.
func (e *Expectations) ExpectDeletions(key string, childKeys []string) { e.Expect(key, 0, childKeys) }

// Expect records that the controller of key is about to create n children and delete the
// children with these keys in one go, as a DaemonSet does when it moves pods between
// nodes, replacing what was expected before.
func (e *Expectations) Expect(key string, n int, childKeys []string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.pending[key] = &pending{creations: n, deletions: sets.New(childKeys...), since: e.clock.Now()}
}

// CreationObserved records one creation seen, or given up on.
func (e *Expectations) CreationObserved(key string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if p, ok := e.pending[key]; ok && p.creations > 0 {
		p.creations--
	}
}

// DeletionObserved records the deletion of one child seen, or given up on. A child
// observed twice (marked for deletion, then gone) counts once.
func (e *Expectations) DeletionObserved(key, childKey string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if p, ok := e.pending[key]; ok {
		p.deletions.Delete(childKey)
	}
}

// Forget drops everything expected for key, when its controller object is gone.
func (e *Expectations) Forget(key string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.pending, key)
}
