package main

import (
	"io"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/kybern/kybern/node-agent/internal/testutil"
)

func TestCopyLines(t *testing.T) {
	cases := []struct {
		name   string
		writes []string
		pause  time.Duration
		want   []string
	}{
		{name: "whole lines", writes: []string{"one\ntwo\n"}, want: []string{"stdout F one", "stdout F two"}},
		{name: "a line written in two parts quickly is one line", writes: []string{"gre", "en\n"}, want: []string{"stdout F green"}},
		{name: "an unterminated end is written once it waited", writes: []string{"prompt: "}, pause: 3 * partialWait, want: []string{"stdout P prompt: "}},
		{name: "an unterminated end at EOF is a whole line", writes: []string{"green"}, want: []string{"stdout F green"}},
		{name: "a long line is split", writes: []string{strings.Repeat("x", maxLine+3) + "\n"},
			want: []string{"stdout P " + strings.Repeat("x", maxLine), "stdout F xxx"}},
	}
	stamp := regexp.MustCompile(`^\S+Z `)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, w := io.Pipe()
			var out testutil.Buffer
			done := make(chan struct{})
			go func() { copyLines(&out, "stdout", r); close(done) }()
			for _, s := range tc.writes {
				if _, err := w.Write([]byte(s)); err != nil {
					t.Fatal(err)
				}
			}
			if tc.pause > 0 {
				time.Sleep(tc.pause)
				if written := out.String(); !strings.Contains(written, "P") {
					t.Fatalf("nothing written while the stream stayed open: %q", written)
				}
			}
			w.Close()
			<-done
			lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
			if len(lines) != len(tc.want) {
				t.Fatalf("%d lines, want %d", len(lines), len(tc.want))
			}
			for i, l := range lines {
				if !stamp.MatchString(l) || stamp.ReplaceAllString(l, "") != tc.want[i] {
					t.Fatalf("line %d = %.80q…, want timestamp + %.80q…", i, l, tc.want[i])
				}
			}
		})
	}
}
