package service

import (
	"errors"
	"fmt"
	"net/netip"

	utilnet "k8s.io/apimachinery/pkg/util/net"
)

// errFull is returned when no offset of a range is free.
var errFull = errors.New("range is full")

// rangeAllocator hands out the offsets 0..size-1 of a range to owners (Service keys). An
// owner may hold several offsets (node ports); an offset has at most one owner. It is not
// safe for concurrent use: the Reconciler serialises every call.
type rangeAllocator struct {
	size   int
	owners map[int]string
}

func newRangeAllocator(size int) *rangeAllocator {
	return &rangeAllocator{size: size, owners: map[int]string{}}
}

// assign gives offset to owner; it is a no-op when owner holds it already, and returns
// the other owner, with ok false, when someone else does.
func (a *rangeAllocator) assign(offset int, owner string) (other string, ok bool) {
	if cur, taken := a.owners[offset]; taken && cur != owner {
		return cur, false
	}
	a.owners[offset] = owner
	return "", true
}

// next assigns to owner the first free offset at or after start, wrapping around to lo,
// so that offsets below lo are never handed out and those in [lo, start) only once the
// rest is full.
func (a *rangeAllocator) next(owner string, lo, start int) (int, error) {
	for i := range a.size - lo {
		offset := lo + (start-lo+i)%(a.size-lo)
		if _, taken := a.owners[offset]; !taken {
			a.owners[offset] = owner
			return offset, nil
		}
	}
	return 0, errFull
}

// release frees offset if owner holds it.
func (a *rangeAllocator) release(offset int, owner string) {
	if a.owners[offset] == owner {
		delete(a.owners, offset)
	}
}

// staticBand is how many offsets at the start of a range dynamic allocation leaves until
// the rest is full, so that addresses and ports users ask for by number rarely collide
// with ones the controller picked, as upstream's allocators do: size/16 between 16 and 256
// for addresses (a /16 keeps 10.96.0.1–10.96.1.0 for requests), size/32 between 16 and 128
// for ports (30000–30085 of the default range).
func staticBand(size, divisor, maxBand int) int {
	return min(max(16, size/divisor), maxBand)
}

// ipRange maps the usable addresses of an IPv4 service CIDR to offsets: offset 0 is the
// first address after the network address, and the broadcast address has none. Offset 0
// (10.96.0.1 in 10.96.0.0/16) is the address upstream gives the kubernetes Service, so it
// is honoured when asked for but never picked.
type ipRange struct {
	prefix netip.Prefix
	size   int
}

// newIPRange checks cidr: an IPv4 prefix from /12 (upstream's limit) to /29.
func newIPRange(cidr netip.Prefix) (ipRange, error) {
	if !cidr.Addr().Is4() || cidr.Bits() < 12 || cidr.Bits() > 29 {
		return ipRange{}, fmt.Errorf("--service-cluster-ip-range=%s: must be an IPv4 CIDR from /12 to /29", cidr)
	}
	cidr = cidr.Masked()
	return ipRange{prefix: cidr, size: 1<<(32-cidr.Bits()) - 2}, nil
}

// offset is ip's offset, with ok false for an address outside the usable range.
func (r ipRange) offset(ip netip.Addr) (int, bool) {
	if !r.prefix.Contains(ip) {
		return 0, false
	}
	base := r.prefix.Addr().As4()
	a := ip.As4()
	n := int(uint32(a[0])<<24|uint32(a[1])<<16|uint32(a[2])<<8|uint32(a[3])) -
		int(uint32(base[0])<<24|uint32(base[1])<<16|uint32(base[2])<<8|uint32(base[3])) - 1
	return n, n >= 0 && n < r.size
}

// addr is the address at offset.
func (r ipRange) addr(offset int) netip.Addr {
	b := r.prefix.Addr().As4()
	n := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3]) + uint32(offset) + 1
	return netip.AddrFrom4([4]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)})
}

// portRange maps node ports to offsets from its base.
type portRange struct {
	utilnet.PortRange
}

// newPortRange checks pr: at least one port, all within 1–65535.
func newPortRange(pr utilnet.PortRange) (portRange, error) {
	if pr.Size < 1 || pr.Base < 1 || pr.Base+pr.Size-1 > 65535 {
		return portRange{}, fmt.Errorf("--service-node-port-range=%s: must hold ports within 1-65535", pr.String())
	}
	return portRange{pr}, nil
}

func (r portRange) offset(port int32) (int, bool) {
	return int(port) - r.Base, r.Contains(int(port))
}

func (r portRange) port(offset int) int32 { return int32(r.Base + offset) }
