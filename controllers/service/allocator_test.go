package service

import (
	"net/netip"
	"testing"
)

func TestRangeAllocatorNext(t *testing.T) {
	cases := []struct {
		name      string
		size      int
		taken     []int
		lo, start int
		want      int
		wantFull  bool
	}{
		{"the start when free", 10, nil, 1, 4, 4, false},
		{"past taken offsets", 10, []int{4, 5}, 1, 4, 6, false},
		{"wraps to lo, never below it", 10, []int{4, 5, 6, 7, 8, 9}, 1, 4, 1, false},
		{"full when all from lo are taken", 4, []int{1, 2, 3}, 1, 2, 0, true},
		{"a start past the end wraps", 4, nil, 0, 16, 0, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := newRangeAllocator(tc.size)
			for _, o := range tc.taken {
				a.assign(o, "other")
			}
			got, err := a.next("me", tc.lo, tc.start)
			if (err != nil) != tc.wantFull || !tc.wantFull && got != tc.want {
				t.Fatalf("next = %d, %v; want %d (full %v)", got, err, tc.want, tc.wantFull)
			}
		})
	}
}

func TestRangeAllocatorAssignAndRelease(t *testing.T) {
	a := newRangeAllocator(4)
	if _, ok := a.assign(2, "a"); !ok {
		t.Fatal("a free offset was refused")
	}
	if _, ok := a.assign(2, "a"); !ok {
		t.Fatal("assigning again to the holder must be a no-op")
	}
	if other, ok := a.assign(2, "b"); ok || other != "a" {
		t.Fatalf("assign to b = %q, %v; want a's", other, ok)
	}
	a.release(2, "b")
	if a.owners[2] != "a" {
		t.Fatal("a release by someone else freed the offset")
	}
	a.release(2, "a")
	if _, ok := a.assign(2, "b"); !ok {
		t.Fatal("a released offset was not free")
	}
}

func TestIPRange(t *testing.T) {
	r, err := newIPRange(netip.MustParsePrefix("10.96.0.0/16"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		ip     string
		offset int
		ok     bool
	}{
		{"10.96.0.0", 0, false}, {"10.96.0.1", 0, true}, {"10.96.1.1", 256, true},
		{"10.96.255.254", 65533, true}, {"10.96.255.255", 0, false}, {"10.97.0.1", 0, false},
	} {
		off, ok := r.offset(netip.MustParseAddr(tc.ip))
		if ok != tc.ok || ok && (off != tc.offset || r.addr(off).String() != tc.ip) {
			t.Errorf("offset(%s) = %d, %v; want %d, %v", tc.ip, off, ok, tc.offset, tc.ok)
		}
	}
	if _, err := newIPRange(netip.MustParsePrefix("10.0.0.0/30")); err == nil {
		t.Error("a /30 was accepted")
	}
}
