package server

import (
	"bytes"
	"context"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"k8s.io/utils/ptr"
)

const sample = "2026-01-02T03:04:01Z stdout F one\n" +
	"2026-01-02T03:04:02Z stderr P tw\n" +
	"2026-01-02T03:04:03Z stderr F o\n" +
	"2026-01-02T03:04:04Z stdout F three\n"

func TestCopyLog(t *testing.T) {
	path := filepath.Join(t.TempDir(), "0.log")
	if err := os.WriteFile(path, []byte(sample), 0o644); err != nil {
		t.Fatal(err)
	}
	since := time.Date(2026, 1, 2, 3, 4, 3, 0, time.UTC)
	for name, tc := range map[string]struct {
		opts LogOptions
		want string
	}{
		"all, partial lines joined":  {LogOptions{}, "one\ntwo\nthree\n"},
		"tail 1":                     {LogOptions{TailLines: ptr.To[int64](1)}, "three\n"},
		"tail 2 starts mid-line":     {LogOptions{TailLines: ptr.To[int64](2)}, "o\nthree\n"},
		"tail beyond the file":       {LogOptions{TailLines: ptr.To[int64](10)}, "one\ntwo\nthree\n"},
		"tail 0":                     {LogOptions{TailLines: ptr.To[int64](0)}, ""},
		"since":                      {LogOptions{Since: &since}, "o\nthree\n"},
		"limit cuts a line":          {LogOptions{LimitBytes: ptr.To[int64](6)}, "one\ntw"},
		"timestamps once per line":   {LogOptions{Timestamps: true, TailLines: ptr.To[int64](1)}, "2026-01-02T03:04:04Z three\n"},
		"timestamps on joined lines": {LogOptions{Timestamps: true, LimitBytes: ptr.To[int64](52)}, "2026-01-02T03:04:01Z one\n2026-01-02T03:04:02Z two\n20"},
	} {
		var out bytes.Buffer
		if err := copyLog(context.Background(), path, tc.opts, &out, func() bool { return false }); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if out.String() != tc.want {
			t.Errorf("%s: got %q, want %q", name, out.String(), tc.want)
		}
	}
}

func TestCopyLogRefusesAMalformedRecord(t *testing.T) {
	path := filepath.Join(t.TempDir(), "0.log")
	if err := os.WriteFile(path, []byte("not a record\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := copyLog(context.Background(), path, LogOptions{}, &bytes.Buffer{}, func() bool { return false }); err == nil {
		t.Fatal("a line without a time was read as a record")
	}
}

func TestParseLogOptions(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	o, previous, err := parseLogOptions(url.Values{"follow": {"true"}, "previous": {"1"}, "tailLines": {"5"}, "sinceSeconds": {"60"}, "limitBytes": {"10"}, "timestamps": {"true"}}, now)
	if err != nil {
		t.Fatal(err)
	}
	if !o.Follow || !previous || !o.Timestamps || *o.TailLines != 5 || *o.LimitBytes != 10 || !o.Since.Equal(now.Add(-time.Minute)) {
		t.Errorf("got %+v previous=%t", o, previous)
	}
	for _, q := range []url.Values{
		{"tailLines": {"-1"}}, {"limitBytes": {"0"}}, {"sinceSeconds": {"0"}}, {"follow": {"maybe"}},
		{"sinceTime": {"yesterday"}}, {"sinceTime": {"2026-01-02T03:04:05Z"}, "sinceSeconds": {"5"}},
	} {
		if _, _, err := parseLogOptions(q, now); err == nil {
			t.Errorf("%v: accepted", q)
		}
	}
}
