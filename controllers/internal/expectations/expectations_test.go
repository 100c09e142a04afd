package expectations

import (
	"testing"
	"time"

	clocktesting "k8s.io/utils/clock/testing"
)

func TestExpectations(t *testing.T) {
	clk := clocktesting.NewFakePassiveClock(time.Unix(1000, 0))
	e := New(clk, DefaultTTL)
	const rs = "ns/rs"

	if !e.Satisfied(rs) {
		t.Fatal("no expectations: want satisfied")
	}

	e.ExpectCreations(rs, 2)
	if e.Satisfied(rs) {
		t.Fatal("2 creations pending: want unsatisfied")
	}
	e.CreationObserved(rs)
	if e.Satisfied(rs) {
		t.Fatal("1 creation pending: want unsatisfied")
	}
	e.CreationObserved(rs)
	e.CreationObserved(rs)
	if !e.Satisfied(rs) {
		t.Fatal("all creations observed: want satisfied")
	}

	e.ExpectDeletions(rs, []string{"ns/a", "ns/b"})
	e.DeletionObserved(rs, "ns/a")
	e.DeletionObserved(rs, "ns/a")
	if e.Satisfied(rs) {
		t.Fatal("ns/a observed twice, ns/b pending: want unsatisfied")
	}
	e.DeletionObserved(rs, "ns/b")
	if !e.Satisfied(rs) {
		t.Fatal("all deletions observed: want satisfied")
	}

	e.Expect(rs, 1, []string{"ns/old"})
	e.CreationObserved(rs)
	if e.Satisfied(rs) {
		t.Fatal("creation observed, deletion of ns/old pending: want unsatisfied")
	}
	e.DeletionObserved(rs, "ns/old")
	if !e.Satisfied(rs) {
		t.Fatal("creation and deletion observed: want satisfied")
	}

	e.ExpectCreations(rs, 1)
	clk.SetTime(clk.Now().Add(DefaultTTL))
	if e.Satisfied(rs) {
		t.Fatal("pending for exactly the TTL: want unsatisfied")
	}
	clk.SetTime(clk.Now().Add(time.Second))
	if !e.Satisfied(rs) {
		t.Fatal("pending beyond the TTL: want satisfied, a lost watch event must not block forever")
	}

	e.ExpectCreations(rs, 1)
	e.Forget(rs)
	if !e.Satisfied(rs) {
		t.Fatal("forgotten: want satisfied")
	}
	e.CreationObserved("ns/other")
}
