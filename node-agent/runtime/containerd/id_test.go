package containerd

import (
	"math"
	"strings"
	"testing"

	"github.com/containerd/containerd/v2/pkg/identifiers"
)

func TestContainerIDFitsContainerd(t *testing.T) {
	longest := strings.Repeat("c", 63)
	seen := map[string]bool{}
	for _, c := range []struct {
		name    string
		attempt int32
	}{{longest, 0}, {longest, 1}, {longest, math.MaxInt32}, {"web", 0}, {"web", 1}} {
		id := containerID("0f0e8d3a-5b1c-4a8e-9d2f-7c6b5a4e3d2c", c.name, c.attempt)
		if err := identifiers.Validate(id); err != nil {
			t.Errorf("container %s attempt %d: %v", c.name, c.attempt, err)
		}
		if seen[id] {
			t.Errorf("container %s attempt %d: ID %s given twice", c.name, c.attempt, id)
		}
		seen[id] = true
	}
}
