package job

import (
	"testing"

	"k8s.io/apimachinery/pkg/util/sets"
)

func TestFormatAndParseIndexes(t *testing.T) {
	cases := []struct {
		name        string
		in          string
		completions int32
		want        []int
		formatted   string
	}{
		{"empty", "", 10, nil, ""},
		{"single", "3", 10, []int{3}, "3"},
		{"two neighbours make an interval", "0,1", 10, []int{0, 1}, "0-1"},
		{"intervals and singles", "0-2,5,7-8", 10, []int{0, 1, 2, 5, 7, 8}, "0-2,5,7-8"},
		{"indexes at or past completions dropped", "2-6,9", 5, []int{2, 3, 4}, "2-4"},
		{"malformed parts skipped", "x,1,4-2,-3,6", 10, []int{1, 6}, "1,6"},
		{"unsorted input is sorted", "7,1-2", 10, []int{1, 2, 7}, "1-2,7"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := parseIndexes(c.in, c.completions)
			if !got.Equal(sets.New(c.want...)) {
				t.Errorf("parseIndexes(%q, %d) = %v, want %v", c.in, c.completions, sets.List(got), c.want)
			}
			if f := formatIndexes(got); f != c.formatted {
				t.Errorf("formatIndexes = %q, want %q", f, c.formatted)
			}
		})
	}
}

func TestPendingIndexes(t *testing.T) {
	cases := []struct {
		name        string
		n           int
		completions int32
		taken       []sets.Set[int]
		want        []int
	}{
		{"nothing taken: the first n", 3, 10, nil, []int{0, 1, 2}},
		{"fewer than n left", 5, 3, nil, []int{0, 1, 2}},
		{"skips active, succeeded and failed", 3, 10, []sets.Set[int]{sets.New(0), sets.New(1, 3), sets.New(4)}, []int{2, 5, 6}},
		{"all taken", 2, 2, []sets.Set[int]{sets.New(0, 1)}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := pendingIndexes(c.n, c.completions, c.taken...)
			if !sets.New(got...).Equal(sets.New(c.want...)) || len(got) != len(c.want) {
				t.Errorf("pendingIndexes = %v, want %v", got, c.want)
			}
		})
	}
}
