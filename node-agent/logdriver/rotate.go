package main

import (
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/kybern/kybern/node-agent/containerlogs"
)

// The driver rotates the file itself, where the kubelet's container log manager
// (pkg/kubelet/logs/container_log_manager.go) renames it from outside every 10 s and then
// asks the runtime to reopen it. The driver is the only writer and holds the file open:
// rotating between two of its own writes, under the lock that orders them, no record is
// lost, written twice or split across two files, and nothing waits for the agent, which
// may be restarting. The semantics are the kubelet's:
//   - the current file is rotated once it has reached maxSize, renamed to
//     <file>.<time> (containerlogs.RotatedName) and replaced by an empty one;
//   - rotated files beyond maxFiles in all, the current one counted, are removed,
//     oldest first, before the rename, so there are never more;
//   - every rotated file but the newest, which a reader may still be finishing, is
//     compressed to <name>.gz; leftovers of a compression that failed are removed.
//
// Two rotations within one second would take the same name, so a file that reaches
// maxSize in the second of the last rotation is rotated by the first record written in
// the next second; it grows past maxSize by at most a second's output meanwhile, where
// the kubelet's grows by up to 10 s of it.

// rotation is the rotation policy: maxSize 0 never rotates.
type rotation struct {
	maxSize  int64
	maxFiles int
}

// validate refuses a policy the kubelet refuses: MaxFiles below 2 leaves no room for a
// rotated file beside the current one.
func (p rotation) validate() error {
	switch {
	case p.maxSize < 0:
		return fmt.Errorf("--max-size=%d: must be a number of bytes, 0 for no rotation", p.maxSize)
	case p.maxSize > 0 && p.maxFiles < 2:
		return fmt.Errorf("--max-files=%d: must be at least 2, the current file and a rotated one", p.maxFiles)
	}
	return nil
}

// logFile is the container's log file, rotated as the policy says. Each Write is one
// record and goes whole into one file; Writes may come from several goroutines.
type logFile struct {
	path   string
	policy rotation
	now    func() time.Time
	// problems is where failures to rotate or compress go: the driver's stderr. Writing
	// goes on into the current file.
	problems io.Writer

	mu   sync.Mutex
	f    *os.File
	size int64
	// compressed is closed once the compression the last rotation started has ended.
	compressed chan struct{}
}

// openLogFile opens the log at path, appending to what an earlier driver wrote.
func openLogFile(path string, policy rotation, now func() time.Time, problems io.Writer) (*logFile, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
	if err != nil {
		return nil, err
	}
	info, err := f.Stat()
	if err != nil {
		return nil, errors.Join(err, f.Close())
	}
	done := make(chan struct{})
	close(done)
	return &logFile{path: path, policy: policy, now: now, problems: problems, f: f, size: info.Size(), compressed: done}, nil
}

// Write appends the record p, first rotating the file if it has reached maxSize.
func (l *logFile) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.policy.maxSize > 0 && l.size >= l.policy.maxSize {
		if err := l.rotate(); err != nil {
			fmt.Fprintf(l.problems, "kybern-log-driver: rotating %s: %v; writing on into it\n", l.path, err)
		}
	}
	n, err := l.f.Write(p)
	l.size += int64(n)
	return n, err
}

// Close waits for a compression under way and closes the file.
func (l *logFile) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	<-l.compressed
	return l.f.Close()
}

// rotate renames the current file and opens a new one, with l.mu held. It compresses
// the rotated file before it in the background; the next rotation waits for that.
func (l *logFile) rotate() error {
	<-l.compressed
	name := containerlogs.RotatedName(l.path, l.now())
	inUse, leftovers, err := containerlogs.Rotated(l.path)
	if err != nil {
		return err
	}
	for _, old := range inUse {
		if strings.TrimSuffix(old, containerlogs.CompressedSuffix) == name {
			return nil // Rotated in this second already: a later record rotates it.
		}
	}
	for _, old := range leftovers {
		if err := os.Remove(old); err != nil {
			return err
		}
	}
	// The file rotated now and the new current file make maxFiles with these.
	keep := l.policy.maxFiles - 2
	for len(inUse) > keep {
		if err := os.Remove(inUse[0]); err != nil {
			return err
		}
		inUse = inUse[1:]
	}
	if err := os.Rename(l.path, name); err != nil {
		return err
	}
	f, err := os.OpenFile(l.path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
	if err != nil {
		// Back under its name, the file takes the next records, and a later one retries.
		return errors.Join(err, os.Rename(name, l.path))
	}
	if err := l.f.Close(); err != nil {
		fmt.Fprintf(l.problems, "kybern-log-driver: closing the rotated %s: %v\n", name, err)
	}
	l.f, l.size = f, 0
	done := make(chan struct{})
	l.compressed = done
	go func() {
		defer close(done)
		for _, old := range inUse {
			if strings.HasSuffix(old, containerlogs.CompressedSuffix) {
				continue
			}
			if err := compress(old); err != nil {
				fmt.Fprintf(l.problems, "kybern-log-driver: compressing %s: %v\n", old, err)
			}
		}
	}()
	return nil
}

// compress replaces the file at path with path.gz. The compressed copy is written under
// a temporary name first, so that path.gz, once there, is whole.
func compress(path string) error {
	tmp := path + containerlogs.TempSuffix
	if err := gzipTo(tmp, path); err != nil {
		return errors.Join(err, os.Remove(tmp))
	}
	if err := os.Rename(tmp, path+containerlogs.CompressedSuffix); err != nil {
		return errors.Join(err, os.Remove(tmp))
	}
	return os.Remove(path)
}

// gzipTo writes the file at path, compressed, to the file dst.
func gzipTo(dst, path string) error {
	in, err := os.Open(path)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o640)
	if err != nil {
		return err
	}
	zw := gzip.NewWriter(out)
	_, err = io.Copy(zw, in)
	return errors.Join(err, zw.Close(), out.Close())
}
