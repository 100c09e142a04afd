package containerd

import "time"

// Backoff is how long a supervisor waits before it restarts a process that exited, as
// kubelet does for a crashing container: Initial after a first exit, doubling with each
// exit that follows soon after the last start, up to Max. A process that ran at least
// Reset before it exited is restarted after Initial again.
type Backoff struct {
	Initial, Max, Reset time.Duration
}

// DefaultBackoff restarts containerd after 1 s, 2 s, 4 s … up to 30 s, and forgets the
// crashes once it has served for a minute, twice the longest delay, as kubelet forgets a
// container's after twice its longest.
var DefaultBackoff = Backoff{Initial: time.Second, Max: 30 * time.Second, Reset: time.Minute}

// Next is the delay before the next start, given the delay before the last one (0 for
// none yet) and how long the process then ran.
func (b Backoff) Next(last, ranFor time.Duration) time.Duration {
	if last <= 0 || ranFor >= b.Reset {
		return b.Initial
	}
	return min(2*last, b.Max)
}
