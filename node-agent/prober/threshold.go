package prober

// Result is what a probe has decided so far.
type Result int

const (
	// Unknown: a startup probe that has not yet succeeded or failed for good.
	Unknown Result = iota
	Success
	Failure
)

// threshold turns single probe outcomes into a result, as upstream's probe workers do:
// the result changes once successThreshold outcomes in a row succeeded, or
// failureThreshold in a row failed.
type threshold struct {
	successes, failures int32
	result              Result
	last                bool
	run                 int32
}

// newThreshold starts at initial: Failure for readiness (not ready until a probe says so),
// Success for liveness (alive until proven otherwise), Unknown for startup.
func newThreshold(successes, failures int32, initial Result) *threshold {
	return &threshold{successes: max(successes, 1), failures: max(failures, 1), result: initial}
}

// observe records one outcome and reports whether the result changed.
func (t *threshold) observe(ok bool) bool {
	if t.run > 0 && ok == t.last {
		t.run++
	} else {
		t.last, t.run = ok, 1
	}
	next := t.result
	switch {
	case ok && t.run >= t.successes:
		next = Success
	case !ok && t.run >= t.failures:
		next = Failure
	}
	changed := next != t.result
	t.result = next
	return changed
}
