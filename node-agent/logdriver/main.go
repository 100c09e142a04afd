// Command kybern-log-driver is the node agent's container log driver: containerd's shim
// runs it for each container, with the container's stdout and stderr, and it appends
// them to the file --log-file names, in the kubelet's format, one line per line
// written: "<RFC3339Nano time> <stream> <F|P> <text>", P marking a part of a line: one
// too long, or one whose newline has not come yet. Being its own small process, it keeps logging while the agent restarts,
// at a few MiB per container; it exits when both streams close.
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/containerd/containerd/v2/core/runtime/v2/logging"
)

func main() {
	path := flag.String("log-file", "", "The file the container's output is appended to.")
	flag.Parse()
	if *path == "" {
		fmt.Fprintln(os.Stderr, "usage: kybern-log-driver --log-file <file>; containerd's shim runs it for the node agent")
		os.Exit(2)
	}
	logging.Run(func(_ context.Context, cfg *logging.Config, ready func() error) error {
		f, err := os.OpenFile(*path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := ready(); err != nil {
			return err
		}
		var mu sync.Mutex
		var wg sync.WaitGroup
		for stream, r := range map[string]io.Reader{"stdout": cfg.Stdout, "stderr": cfg.Stderr} {
			wg.Go(func() { copyLines(f, &mu, stream, r) })
		}
		wg.Wait()
		return nil
	})
}

// maxLine is the longest line written whole; longer ones are split into P-tagged parts.
const maxLine = 16 << 10

// partialWait is how long the unterminated end of a stream may wait for its newline before
// it is written as a P-tagged part. containerd's shim keeps the streams open after the
// process exits, so the end of a last line without a newline would otherwise wait until
// the container is removed.
const partialWait = 100 * time.Millisecond

// copyLines writes each line read from r as one log line; a line longer than maxLine, or
// one unterminated for partialWait, goes out in P-tagged parts, the last part F-tagged.
func copyLines(w io.Writer, mu *sync.Mutex, stream string, r io.Reader) {
	write := func(text []byte, tag string) {
		mu.Lock()
		fmt.Fprintf(w, "%s %s %s %s\n", time.Now().UTC().Format(time.RFC3339Nano), stream, tag, text)
		mu.Unlock()
	}
	chunks := make(chan []byte)
	go func() {
		defer close(chunks)
		buf := make([]byte, 32<<10)
		for {
			n, err := r.Read(buf)
			if n > 0 {
				chunks <- append([]byte(nil), buf[:n]...)
			}
			if err != nil {
				return
			}
		}
	}()
	var pending []byte
	flush := time.NewTimer(partialWait)
	flush.Stop()
	for {
		select {
		case chunk, ok := <-chunks:
			if !ok {
				if len(pending) > 0 {
					write(pending, "F")
				}
				return
			}
			pending = append(pending, chunk...)
			for {
				i := bytes.IndexByte(pending, '\n')
				if i < 0 {
					break
				}
				line := pending[:i]
				for len(line) > maxLine {
					write(line[:maxLine], "P")
					line = line[maxLine:]
				}
				write(line, "F")
				pending = pending[i+1:]
			}
			for len(pending) >= maxLine {
				write(pending[:maxLine], "P")
				pending = pending[maxLine:]
			}
			flush.Stop()
			if len(pending) > 0 {
				flush.Reset(partialWait)
			}
		case <-flush.C:
			if len(pending) > 0 {
				write(pending, "P")
				pending = nil
			}
		}
	}
}
