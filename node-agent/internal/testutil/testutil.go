// Package testutil holds the helpers the node agent's unit tests share: waiting for what
// another goroutine makes true, and a buffer other goroutines write while a test reads it.
package testutil

import (
	"bytes"
	"sync"
	"testing"
	"time"
)

// Until polls cond until it holds, failing t after 10 s with what it waited for. It is
// for conditions that goroutines of the code under test make true, on their own time.
func Until(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Buffer is a bytes.Buffer that may be written and read at once.
type Buffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write implements io.Writer.
func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String is what was written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
