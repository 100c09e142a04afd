package podgc

import (
	"context"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clocktesting "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
)

// A Node missing from the cache counts as gone only after the quarantine, and only if
// the apiserver has no such Node either; one the cache shows again starts over.
func TestGoneNodesWaitForTheQuarantineAndTheAPIServer(t *testing.T) {
	scheme := runtime.NewScheme()
	if err := corev1alpha1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	// "lagging" exists in the apiserver but not yet in the cache.
	api := fake.NewClientBuilder().WithScheme(scheme).WithObjects(&corev1alpha1.Node{ObjectMeta: metav1.ObjectMeta{Name: "lagging"}}).Build()
	clk := clocktesting.NewFakeClock(time.Unix(1000, 0))
	c := &Collector{APIReader: api, Clock: clk, Quarantine: 40 * time.Second}
	pods := []corev1alpha1.Pod{pod("a", "lost", "Running", 1, false), pod("b", "lagging", "Running", 1, false), pod("c", "back", "Running", 1, false)}
	none := map[string]*corev1alpha1.Node{}
	back := map[string]*corev1alpha1.Node{"back": node("back", true)}

	steps := []struct {
		after time.Duration
		nodes map[string]*corev1alpha1.Node
		want  []string
	}{
		{0, none, nil},
		{39 * time.Second, none, nil},
		// "back" reappears in the cache: its quarantine starts over.
		{time.Second, back, []string{"lost"}},
		{time.Second, none, []string{"lost"}},
		{39 * time.Second, none, []string{"lost"}},
		{time.Second, none, []string{"back", "lost"}},
	}
	for i, s := range steps {
		clk.Step(s.after)
		gone, err := c.goneNodes(context.Background(), pods, s.nodes)
		if err != nil {
			t.Fatal(err)
		}
		got := gone.UnsortedList()
		if len(got) != len(s.want) || !gone.HasAll(s.want...) {
			t.Errorf("step %d (+%s): gone = %v, want %v", i, s.after, got, s.want)
		}
	}
}
