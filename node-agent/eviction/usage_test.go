package eviction

import "testing"

func TestSafeName(t *testing.T) {
	for name, want := range map[string]bool{"scratch": true, "..": false, ".": false, "a/b": false, "": false} {
		if safeName(name) != want {
			t.Errorf("safeName(%q) = %v", name, !want)
		}
	}
}
