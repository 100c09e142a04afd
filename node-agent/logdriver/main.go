// Command kybern-log-driver is the node agent's container log driver: containerd's shim
// runs it for each container, with the container's stdout and stderr, and it appends
// them to the file --log-file names, in the kubelet's format, one line per line
// written: "<RFC3339Nano time> <stream> <F|P> <text>", P marking a part of a line: one
// too long, or one whose newline has not come yet. With --max-size it rotates the file as
// the kubelet rotates container logs (rotate.go), keeping --max-files files. Being its own
// small process, it keeps logging while the agent restarts, at a few MiB per container;
// it exits when both streams close.
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
	var policy rotation
	flag.Int64Var(&policy.maxSize, "max-size", 0, "Rotate the file once it holds this many bytes; 0 never rotates it.")
	flag.IntVar(&policy.maxFiles, "max-files", 5, "With --max-size, the most files kept, the current one included; at least 2.")
	flag.Parse()
	if *path == "" || flag.NArg() > 0 {
		fmt.Fprintln(os.Stderr, "usage: kybern-log-driver --log-file <file> [--max-size <bytes> --max-files <n>]; containerd's shim runs it for the node agent")
		os.Exit(2)
	}
	if err := policy.validate(); err != nil {
		fmt.Fprintln(os.Stderr, "kybern-log-driver:", err)
		os.Exit(2)
	}
	logging.Run(func(_ context.Context, cfg *logging.Config, ready func() error) error {
		f, err := openLogFile(*path, policy, time.Now, os.Stderr)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := ready(); err != nil {
			return err
		}
		var wg sync.WaitGroup
		for stream, r := range map[string]io.Reader{"stdout": cfg.Stdout, "stderr": cfg.Stderr} {
			wg.Go(func() { copyLines(f, stream, r) })
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

// copyLines writes each line read from r as one log record, in one Write of w, which
// other streams' copyLines share; a line longer than maxLine, or one unterminated for
// partialWait, goes out in P-tagged parts, the last part F-tagged.
func copyLines(w io.Writer, stream string, r io.Reader) {
	var record []byte
	write := func(text []byte, tag string) {
		record = time.Now().UTC().AppendFormat(record[:0], time.RFC3339Nano)
		record = append(record, ' ')
		record = append(record, stream...)
		record = append(record, ' ')
		record = append(record, tag...)
		record = append(record, ' ')
		record = append(record, text...)
		record = append(record, '\n')
		_, _ = w.Write(record)
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
