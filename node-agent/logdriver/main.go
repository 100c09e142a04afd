// Command kybern-log-driver is the node agent's container log driver: containerd's shim
// runs it for each container, with the container's stdout and stderr, and it appends
// them to the file --log-file names, in the kubelet's format, one line per line
// written: "<RFC3339Nano time> <stream> <F|P> <text>", P marking a line split because it
// was too long. Being its own small process, it keeps logging while the agent restarts,
// at a few MiB per container; it exits when both streams close.
package main

import (
	"bufio"
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

func copyLines(w io.Writer, mu *sync.Mutex, stream string, r io.Reader) {
	br := bufio.NewReaderSize(r, maxLine)
	for {
		line, isPrefix, err := br.ReadLine()
		if len(line) > 0 || (err == nil && !isPrefix) {
			tag := "F"
			if isPrefix {
				tag = "P"
			}
			mu.Lock()
			fmt.Fprintf(w, "%s %s %s %s\n", time.Now().UTC().Format(time.RFC3339Nano), stream, tag, line)
			mu.Unlock()
		}
		if err != nil {
			return
		}
	}
}
