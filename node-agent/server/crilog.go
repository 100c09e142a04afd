package server

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/fsnotify/fsnotify"
)

// LogOptions are kubectl logs' options, as the kubelet takes them (PodLogOptions).
type LogOptions struct {
	Follow bool
	// TailLines, when set, starts that many lines before the end.
	TailLines *int64
	// Since, when set, skips lines written before it.
	Since *time.Time
	// Timestamps prefixes each line with the time it was written, RFC 3339 with nanoseconds.
	Timestamps bool
	// LimitBytes, when set, ends the output after that many bytes.
	LimitBytes *int64
}

// entry is one record of a log file in the kubelet's (CRI's) format:
// "<RFC3339Nano time> <stdout|stderr> <F|P> <text>", P marking part of a longer line.
type entry struct {
	time    time.Time
	text    []byte
	partial bool
}

// parseEntry reads one record, without its newline.
func parseEntry(line []byte) (entry, error) {
	fields := bytes.SplitN(line, []byte{' '}, 4)
	if len(fields) < 3 {
		return entry{}, fmt.Errorf("log record %q: want <time> <stream> <tag> <text>", line)
	}
	t, err := time.Parse(time.RFC3339Nano, string(fields[0]))
	if err != nil {
		return entry{}, fmt.Errorf("log record time %q: %w", fields[0], err)
	}
	e := entry{time: t, partial: string(fields[2]) == "P"}
	if len(fields) == 4 {
		e.text = fields[3]
	}
	return e, nil
}

// logWriter writes records as kubectl logs shows them, within LimitBytes.
type logWriter struct {
	w          io.Writer
	timestamps bool
	since      *time.Time
	left       int64
	limited    bool
	// midLine is set after a partial record, whose continuation gets no timestamp.
	midLine bool
}

// errLimit ends a read at LimitBytes.
var errLimit = errors.New("limit reached")

func newLogWriter(w io.Writer, o LogOptions) *logWriter {
	lw := &logWriter{w: w, timestamps: o.Timestamps, since: o.Since}
	if o.LimitBytes != nil {
		lw.limited, lw.left = true, *o.LimitBytes
	}
	return lw
}

func (lw *logWriter) write(e entry) error {
	if lw.since != nil && e.time.Before(*lw.since) {
		return nil
	}
	var out []byte
	if lw.timestamps && !lw.midLine {
		out = append(out, e.time.UTC().Format(time.RFC3339Nano)...)
		out = append(out, ' ')
	}
	out = append(out, e.text...)
	if !e.partial {
		out = append(out, '\n')
	}
	lw.midLine = e.partial
	if lw.limited {
		if int64(len(out)) >= lw.left {
			_, err := lw.w.Write(out[:lw.left])
			lw.left = 0
			return errors.Join(err, errLimit)
		}
		lw.left -= int64(len(out))
	}
	_, err := lw.w.Write(out)
	return err
}

// tailOffset is where in f the last n complete lines start.
func tailOffset(f *os.File, n int64) (int64, error) {
	if n <= 0 {
		end, err := f.Seek(0, io.SeekEnd)
		return end, err
	}
	info, err := f.Stat()
	if err != nil {
		return 0, err
	}
	const chunk = 32 << 10
	pos, lines := info.Size(), int64(0)
	buf := make([]byte, chunk)
	// A final newline ends the last line rather than starting one more.
	skipLast := true
	for pos > 0 {
		size := min(chunk, pos)
		pos -= size
		if _, err := f.ReadAt(buf[:size], pos); err != nil {
			return 0, err
		}
		for i := size - 1; i >= 0; i-- {
			if buf[i] != '\n' {
				skipLast = false
				continue
			}
			if skipLast {
				skipLast = false
				continue
			}
			lines++
			if lines == n {
				return pos + i + 1, nil
			}
		}
	}
	return 0, nil
}

// copyLog writes the log at path to w as o asks: the current file, as the kubelet reads
// it. Following, it waits at the end of the file for more, until running reports that
// the container has stopped (and what it wrote is read) or ctx ends; when the log driver
// rotates the file, it reads the renamed file to its end and goes on in the new one.
// A follower so far behind that the driver rotated twice before it reached the end of
// its file misses the file in between, as the kubelet's would.
func copyLog(ctx context.Context, path string, o LogOptions, w io.Writer, running func() bool) error {
	err := readLog(ctx, path, o, w, running)
	if errors.Is(err, errLimit) {
		return nil
	}
	return err
}

func readLog(ctx context.Context, path string, o LogOptions, w io.Writer, running func() bool) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer func() { f.Close() }()
	if o.TailLines != nil {
		off, err := tailOffset(f, *o.TailLines)
		if err != nil {
			return err
		}
		if _, err := f.Seek(off, io.SeekStart); err != nil {
			return err
		}
	}
	lw := newLogWriter(w, o)
	r := bufio.NewReader(f)
	var pending []byte
	if err := copyRecords(r, &pending, lw); err != nil || !o.Follow {
		return err
	}
	// The directory's events cover writes to the current file and its replacement.
	watcher, err := fsnotify.NewWatcher()
	if err != nil {
		return err
	}
	defer watcher.Close()
	if err := watcher.Add(filepath.Dir(path)); err != nil {
		return err
	}
	for {
		if err := copyRecords(r, &pending, lw); err != nil {
			return err
		}
		next, err := replaced(path, f)
		if err != nil {
			return err
		}
		if next != nil {
			// The driver writes no more to f once it renamed it: what is left is read first.
			if err := copyRecords(r, &pending, lw); err != nil {
				return errors.Join(err, next.Close())
			}
			f.Close()
			f, r = next, bufio.NewReader(next)
			continue
		}
		// At the end: a stopped container writes no more, once what it wrote is read.
		if !running() {
			if more, err := grew(f, r); err != nil || !more {
				return err
			}
			continue
		}
		if err := waitForWrite(ctx, watcher); err != nil {
			return err
		}
	}
}

// copyRecords writes the records r holds to lw, up to its end, where it keeps the
// beginning of a record still being written in pending.
func copyRecords(r *bufio.Reader, pending *[]byte, lw *logWriter) error {
	for {
		line, err := r.ReadBytes('\n')
		*pending = append(*pending, line...)
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		e, err := parseEntry(bytes.TrimSuffix(*pending, []byte{'\n'}))
		*pending = (*pending)[:0]
		if err != nil {
			return err
		}
		if err := lw.write(e); err != nil {
			return err
		}
	}
}

// replaced opens the file now at path when it is no longer f, which the log driver
// rotated; it is nil while f is the current file, or while the new one is not there yet.
func replaced(path string, f *os.File) (*os.File, error) {
	next, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	a, err := f.Stat()
	if err != nil {
		return nil, errors.Join(err, next.Close())
	}
	b, err := next.Stat()
	if err != nil || os.SameFile(a, b) {
		return nil, errors.Join(err, next.Close())
	}
	return next, nil
}

// grew reports whether f holds bytes beyond what r has read.
func grew(f *os.File, r *bufio.Reader) (bool, error) {
	pos, err := f.Seek(0, io.SeekCurrent)
	if err != nil {
		return false, err
	}
	info, err := f.Stat()
	if err != nil {
		return false, err
	}
	return info.Size() > pos-int64(r.Buffered()), nil
}

// followRecheck bounds a wait for a write, so that a container that stops without a
// last write ends the follow.
const followRecheck = time.Second

func waitForWrite(ctx context.Context, watcher *fsnotify.Watcher) error {
	timer := time.NewTimer(followRecheck)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case err := <-watcher.Errors:
		return err
	case <-watcher.Events:
	case <-timer.C:
	}
	return nil
}
