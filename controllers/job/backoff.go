package job

import (
	"sync"
	"time"

	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
)

// Pod-creation backoff after failures, as upstream's: 10 s after the first failure,
// doubling with each further one, at most 6 minutes.
const (
	baseBackoff = 10 * time.Second
	maxBackoff  = 6 * time.Minute
)

// backoffRecord is a Job's failures since its last success and when the last one ended.
type backoffRecord struct {
	failures    int32
	lastFailure time.Time
}

// remaining is how long pod creation must still wait at now.
func (r backoffRecord) remaining(now time.Time) time.Duration {
	if r.failures == 0 {
		return 0
	}
	return max(0, r.lastFailure.Add(backoffFor(r.failures)).Sub(now))
}

// backoffFor is the wait after the n-th failure in a row: 10 s, 20 s, 40 s, … 6 min.
func backoffFor(n int32) time.Duration {
	d := baseBackoff
	for i := int32(1); i < n && d < maxBackoff; i++ {
		d *= 2
	}
	return min(d, maxBackoff)
}

// backoffStore keeps each Job's backoffRecord between reconciles. Like upstream's it
// lives in memory: a restarted controller starts every Job's backoff afresh.
type backoffStore struct {
	mu      sync.Mutex
	records map[string]backoffRecord
}

func newBackoffStore() *backoffStore { return &backoffStore{records: map[string]backoffRecord{}} }

// next is key's record once the newly finished pods are taken into account: a success
// clears the failures before it; each failure after the last success adds one.
func (s *backoffStore) next(key string, succeeded, failed []*corev1alpha1.Pod, now time.Time) backoffRecord {
	s.mu.Lock()
	rec := s.records[key]
	s.mu.Unlock()
	var lastSuccess time.Time
	for _, p := range succeeded {
		if t := finishedAt(p, now); t.After(lastSuccess) {
			lastSuccess = t
		}
	}
	if len(succeeded) > 0 {
		rec = backoffRecord{}
	}
	for _, p := range failed {
		t := finishedAt(p, now)
		if len(succeeded) > 0 && !t.After(lastSuccess) {
			continue
		}
		rec.failures++
		if t.After(rec.lastFailure) {
			rec.lastFailure = t
		}
	}
	return rec
}

func (s *backoffStore) set(key string, rec backoffRecord) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.records[key] = rec
}

func (s *backoffStore) forget(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.records, key)
}
