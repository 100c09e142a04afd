package containerd

import (
	"maps"
	"testing"
)

func TestLogDriverArgs(t *testing.T) {
	for _, tc := range []struct {
		driver LogDriver
		want   map[string]string
	}{
		{LogDriver{Path: "/bin/d"}, map[string]string{"--log-file": "/l/0.log"}},
		{LogDriver{Path: "/bin/d", MaxSize: 65536, MaxFiles: 3}, map[string]string{"--log-file": "/l/0.log", "--max-size": "65536", "--max-files": "3"}},
	} {
		if got := tc.driver.args("/l/0.log"); !maps.Equal(got, tc.want) {
			t.Errorf("%+v: got %v, want %v", tc.driver, got, tc.want)
		}
	}
}
