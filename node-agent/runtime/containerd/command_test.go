package containerd

import (
	"slices"
	"testing"
)

func TestCommandLineFollowsUpstreamRules(t *testing.T) {
	entrypoint, cmd := []string{"/entry"}, []string{"--serve"}
	cases := []struct {
		name          string
		command, args []string
		want          []string
	}{
		{"neither: the image's entrypoint and cmd", nil, nil, []string{"/entry", "--serve"}},
		{"command only: it replaces both", []string{"sh", "-c", "true"}, nil, []string{"sh", "-c", "true"}},
		{"args only: the image's entrypoint with them", nil, []string{"--debug"}, []string{"/entry", "--debug"}},
		{"both: command then args", []string{"echo"}, []string{"hi"}, []string{"echo", "hi"}},
	}
	for _, tc := range cases {
		if got := commandLine(entrypoint, cmd, tc.command, tc.args); !slices.Equal(got, tc.want) {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
	if got := commandLine(nil, nil, nil, nil); len(got) != 0 {
		t.Errorf("an image without entrypoint or cmd and no command: %q, want nothing (StartContainer then refuses)", got)
	}
}
