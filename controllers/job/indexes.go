package job

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	batchv1 "k8s.io/api/batch/v1"
	"k8s.io/apimachinery/pkg/util/sets"

	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
)

// noIndex is the completion index of a pod that has none, or an unreadable one.
const noIndex = -1

// completionIndex is the pod's completion index from its annotation, or noIndex.
func completionIndex(p *corev1alpha1.Pod) int {
	v, ok := p.Annotations[batchv1.JobCompletionIndexAnnotation]
	if !ok {
		return noIndex
	}
	ix, err := strconv.Atoi(v)
	if err != nil || ix < 0 {
		return noIndex
	}
	return ix
}

// validIndex reports whether the pod has an index inside [0, completions).
func validIndex(p *corev1alpha1.Pod, completions int32) bool {
	ix := completionIndex(p)
	return ix != noIndex && ix < int(completions)
}

// parseIndexes reads a list such as "0,3-5,7" as status.completedIndexes and
// successPolicy write it, keeping only indexes below completions. Malformed parts are
// skipped: the status is the controller's own writing, and a rule the user wrote badly
// then matches nothing.
func parseIndexes(s string, completions int32) sets.Set[int] {
	out := sets.New[int]()
	if s == "" {
		return out
	}
	for part := range strings.SplitSeq(s, ",") {
		first, last, isRange := strings.Cut(part, "-")
		lo, err := strconv.Atoi(first)
		if err != nil || lo < 0 {
			continue
		}
		hi := lo
		if isRange {
			if hi, err = strconv.Atoi(last); err != nil || hi < lo {
				continue
			}
		}
		for ix := lo; ix <= hi && ix < int(completions); ix++ {
			out.Insert(ix)
		}
	}
	return out
}

// formatIndexes writes indexes as ascending intervals: {0,1,2,5,7,8} is "0-2,5,7-8".
// Two neighbours make an interval, as upstream writes them.
func formatIndexes(indexes sets.Set[int]) string {
	sorted := sets.List(indexes)
	var b strings.Builder
	for i := 0; i < len(sorted); {
		j := i
		for j+1 < len(sorted) && sorted[j+1] == sorted[j]+1 {
			j++
		}
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		if j == i {
			fmt.Fprintf(&b, "%d", sorted[i])
		} else {
			fmt.Fprintf(&b, "%d-%d", sorted[i], sorted[j])
		}
		i = j + 1
	}
	return b.String()
}

// pendingIndexes are the first n indexes below completions that have no pod to wait for:
// not succeeded, not failed for good, and without an active pod (nor, where a
// replacement must wait for the old pod to be gone, a terminating one).
func pendingIndexes(n int, completions int32, taken ...sets.Set[int]) []int {
	var out []int
	for ix := 0; ix < int(completions) && len(out) < n; ix++ {
		if !slices.ContainsFunc(taken, func(s sets.Set[int]) bool { return s.Has(ix) }) {
			out = append(out, ix)
		}
	}
	return out
}

// indexesOf are the completion indexes of pods, leaving out those with none.
func indexesOf(pods []*corev1alpha1.Pod) sets.Set[int] {
	out := sets.New[int]()
	for _, p := range pods {
		if ix := completionIndex(p); ix != noIndex {
			out.Insert(ix)
		}
	}
	return out
}

// indexFailureCounts reads the per-index failure counts a pod carries: how many earlier
// pods of its index failed (counted against backoffLimitPerIndex), and how many failed
// in a way podFailurePolicy ignores.
func indexFailureCounts(p *corev1alpha1.Pod) (counted, ignored int32) {
	read := func(key string) int32 {
		v, err := strconv.ParseInt(p.Annotations[key], 10, 32)
		if err != nil || v < 0 {
			return 0
		}
		return int32(v)
	}
	return read(batchv1.JobIndexFailureCountAnnotation), read(batchv1.JobIndexIgnoredFailureCountAnnotation)
}
