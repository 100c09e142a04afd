package simulated

import (
	"testing"
	"time"
)

func TestPlanReadsTheCommand(t *testing.T) {
	cases := []struct {
		argv []string
		want behaviour
	}{
		{nil, behaviour{forever: true}},
		{[]string{"httpd", "-f", "-p", "80"}, behaviour{forever: true}},
		{[]string{"true"}, behaviour{}},
		{[]string{"/bin/false"}, behaviour{exitCode: 1}},
		{[]string{"sleep", "2.5"}, behaviour{runFor: 2500 * time.Millisecond}},
		{[]string{"sh", "-c", "echo hello; sleep 1 && exit 3"}, behaviour{runFor: time.Second, exitCode: 3, output: []string{"hello"}}},
		{[]string{"sh", "-c", "echo started; httpd -f"}, behaviour{forever: true, output: []string{"started"}}},
		{[]string{"sleep", "infinity"}, behaviour{forever: true}},
	}
	for _, tc := range cases {
		got := plan(tc.argv)
		if got.forever != tc.want.forever || got.runFor != tc.want.runFor || got.exitCode != tc.want.exitCode || len(got.output) != len(tc.want.output) {
			t.Errorf("plan(%q) = %+v, want %+v", tc.argv, got, tc.want)
		}
	}
}
