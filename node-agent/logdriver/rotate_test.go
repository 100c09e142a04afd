package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// ticking is a clock that moves on by step each time it is read, from 2026-12-03 08:00:00 UTC.
func ticking(step time.Duration) func() time.Time {
	var mu sync.Mutex
	t := time.Date(2026, 12, 3, 8, 0, 0, 0, time.UTC)
	return func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		t = t.Add(step)
		return t
	}
}

// files lists dir's file names, sorted.
func files(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// contents is what the files of the log at dir/0.log hold, oldest first, decompressed.
func contents(t *testing.T, dir string) string {
	t.Helper()
	var all bytes.Buffer
	for _, name := range files(t, dir) {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasSuffix(name, ".gz") {
			zr, err := gzip.NewReader(bytes.NewReader(data))
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if data, err = io.ReadAll(zr); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
		}
		if name != "0.log" {
			all.Write(data)
		}
	}
	current, err := os.ReadFile(filepath.Join(dir, "0.log"))
	if err != nil {
		t.Fatal(err)
	}
	return all.String() + string(current)
}

func TestRotation(t *testing.T) {
	// Records of 10 bytes: "record 00\n".
	record := func(i int) string { return fmt.Sprintf("record %02d\n", i) }
	cases := []struct {
		name    string
		policy  rotation
		records int
		step    time.Duration
		want    []string
		// kept is the first record still in a file.
		kept int
	}{
		{name: "no rotation without max size", policy: rotation{maxFiles: 2}, records: 30, step: time.Second,
			want: []string{"0.log"}},
		{name: "below max size stays", policy: rotation{maxSize: 100, maxFiles: 5}, records: 10, step: time.Second,
			want: []string{"0.log"}},
		{name: "max size reached rotates before the next record, the newest rotated uncompressed",
			policy: rotation{maxSize: 30, maxFiles: 5}, records: 7, step: time.Second,
			// Records 0-2 fill the first file; the clock is read at the 4th and the 7th record.
			want: []string{"0.log", "0.log.20261203-080001.gz", "0.log.20261203-080002"}},
		{name: "max files counts the current file, oldest removed", policy: rotation{maxSize: 30, maxFiles: 3}, records: 13, step: time.Second,
			want: []string{"0.log", "0.log.20261203-080003.gz", "0.log.20261203-080004"}, kept: 6},
		{name: "max files 2 keeps one rotated file", policy: rotation{maxSize: 20, maxFiles: 2}, records: 9, step: time.Second,
			want: []string{"0.log", "0.log.20261203-080004"}, kept: 6},
		{name: "in the second of the last rotation the file grows on", policy: rotation{maxSize: 20, maxFiles: 5}, records: 8, step: 400 * time.Millisecond,
			// Clock reads at records 2 (08:00:00.4, rotates), 4 (.8, same second), 5 (01.2, rotates), 7 (01.6, same second).
			want: []string{"0.log", "0.log.20261203-080000.gz", "0.log.20261203-080001"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			f, err := openLogFile(filepath.Join(dir, "0.log"), tc.policy, ticking(tc.step), os.Stderr)
			if err != nil {
				t.Fatal(err)
			}
			var want strings.Builder
			for i := range tc.records {
				if _, err := f.Write([]byte(record(i))); err != nil {
					t.Fatal(err)
				}
				if i >= tc.kept {
					want.WriteString(record(i))
				}
			}
			if err := f.Close(); err != nil {
				t.Fatal(err)
			}
			if got := files(t, dir); !slices.Equal(got, tc.want) {
				t.Errorf("files %v, want %v", got, tc.want)
			}
			if got := contents(t, dir); got != want.String() {
				t.Errorf("the files hold %q, want %q", got, want.String())
			}
		})
	}
}

func TestRotationRemovesLeftoversAndAppends(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "0.log")
	for name, data := range map[string]string{
		"0.log": "earlier\n", "0.log.20261203-075959.gz": "", "0.log.20261203-075959": "half compressed\n", "0.log.20261203-075958.tmp": "x",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o640); err != nil {
			t.Fatal(err)
		}
	}
	f, err := openLogFile(path, rotation{maxSize: 8, maxFiles: 5}, ticking(time.Second), os.Stderr)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write([]byte("later\n")); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if got, want := files(t, dir), []string{"0.log", "0.log.20261203-075959.gz", "0.log.20261203-080001"}; !slices.Equal(got, want) {
		t.Errorf("files %v, want %v", got, want)
	}
	if data, _ := os.ReadFile(filepath.Join(dir, "0.log.20261203-080001")); string(data) != "earlier\n" {
		t.Errorf("the rotated file holds %q, want what the earlier driver wrote", data)
	}
}

// Two streams written at once through copyLines, rotated every few records: every
// record is whole, in one file, once, and each stream's lines are in order.
func TestRotationLosesNoLineOfConcurrentStreams(t *testing.T) {
	const lines = 3000
	for _, maxFiles := range []int{100000, 3} {
		t.Run(fmt.Sprintf("max files %d", maxFiles), func(t *testing.T) {
			dir := t.TempDir()
			f, err := openLogFile(filepath.Join(dir, "0.log"), rotation{maxSize: 4 << 10, maxFiles: maxFiles}, ticking(time.Second), os.Stderr)
			if err != nil {
				t.Fatal(err)
			}
			var wg sync.WaitGroup
			for _, stream := range []string{"stdout", "stderr"} {
				r, w := io.Pipe()
				wg.Go(func() { copyLines(f, stream, r) })
				wg.Go(func() {
					for i := range lines {
						fmt.Fprintf(w, "%s %d\n", stream, i)
					}
					w.Close()
				})
			}
			wg.Wait()
			if err := f.Close(); err != nil {
				t.Fatal(err)
			}
			names := files(t, dir)
			if maxFiles == 3 && len(names) != 3 {
				t.Fatalf("files %v, want 3", names)
			}
			if maxFiles > 3 && len(names) < 10 {
				t.Fatalf("files %v, want one per 4 KiB", names)
			}
			next := map[string]int{}
			scanner := bufio.NewScanner(strings.NewReader(contents(t, dir)))
			for scanner.Scan() {
				fields := strings.Fields(scanner.Text())
				if len(fields) != 5 || fields[2] != "F" || fields[1] != fields[3] {
					t.Fatalf("record %q: not whole", scanner.Text())
				}
				n, err := strconv.Atoi(fields[4])
				if err != nil {
					t.Fatalf("record %q: %v", scanner.Text(), err)
				}
				stream := fields[1]
				if _, seen := next[stream]; !seen && maxFiles == 3 {
					next[stream] = n // The oldest files were removed.
				}
				if n != next[stream] {
					t.Fatalf("%s: line %d after %d", stream, n, next[stream]-1)
				}
				next[stream]++
			}
			// With 3 files kept, a stream that ended early may be in none of them.
			if len(next) == 0 || maxFiles > 3 && len(next) != 2 {
				t.Fatalf("streams read %v, want both", next)
			}
			for stream, n := range next {
				if n != lines {
					t.Errorf("%s: the last line read is %d, want %d", stream, n-1, lines-1)
				}
			}
		})
	}
}

func TestRotationPolicyValidation(t *testing.T) {
	for _, tc := range []struct {
		policy rotation
		ok     bool
	}{
		{rotation{maxSize: 0, maxFiles: 0}, true},
		{rotation{maxSize: 10 << 20, maxFiles: 5}, true},
		{rotation{maxSize: 1, maxFiles: 2}, true},
		{rotation{maxSize: 10 << 20, maxFiles: 1}, false},
		{rotation{maxSize: -1, maxFiles: 5}, false},
	} {
		if err := tc.policy.validate(); (err == nil) != tc.ok {
			t.Errorf("%+v: error %v, want ok=%t", tc.policy, err, tc.ok)
		}
	}
}
