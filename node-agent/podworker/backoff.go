package podworker

import "time"

// CrashLoopBackOff bounds, as upstream's kubelet: the first restart is immediate, then
// 10 s doubling to 5 min; a container that ran for 10 min starts over.
const (
	backoffInitial = 10 * time.Second
	backoffMax     = 5 * time.Minute
	backoffReset   = 10 * time.Minute
)

// backoff holds one pod's restart delays by container name. Only its worker uses it.
type backoff map[string]time.Duration

// wait returns how much longer a container that exited at finishedAt, after starting at
// startedAt, must wait before its restart; 0 means restart now.
func (b backoff) wait(name string, startedAt, finishedAt, now time.Time) time.Duration {
	if finishedAt.Sub(startedAt) >= backoffReset {
		delete(b, name)
	}
	delay, ok := b[name]
	if !ok {
		return 0
	}
	return max(0, finishedAt.Add(delay).Sub(now))
}

// restarted records a restart of name, doubling its next delay.
func (b backoff) restarted(name string) {
	delay, ok := b[name]
	switch {
	case !ok:
		b[name] = backoffInitial
	default:
		b[name] = min(2*delay, backoffMax)
	}
}
