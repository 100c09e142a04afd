// Package slowstart runs a controller's creates in batches that double in size, so that a
// template the apiserver refuses costs a few calls instead of hundreds.
package slowstart

import (
	"context"
	"sync"
)

// Run calls fn count times: first initial calls at once, then twice as many, and so on,
// each batch concurrently. It stops after the first batch with a failure and returns how
// many calls succeeded and the first error.
//
// For count = 10 and initial = 1 the batches are 1, 2, 4 and 3: a template that always
// fails costs one call.
func Run(ctx context.Context, count, initial int, fn func(ctx context.Context) error) (int, error) {
	succeeded := 0
	for batch := min(count, initial); batch > 0; batch = min(2*batch, count-succeeded) {
		errs := make(chan error, batch)
		var wg sync.WaitGroup
		for range batch {
			wg.Go(func() {
				if err := fn(ctx); err != nil {
					errs <- err
				}
			})
		}
		wg.Wait()
		close(errs)
		succeeded += batch - len(errs)
		if err, failed := <-errs; failed {
			return succeeded, err
		}
	}
	return succeeded, nil
}
