package gatewayapi

import (
	"fmt"
	"hash/fnv"
	"math/big"
	"net/netip"
)

// addressPool hands out the addresses of Settings.GatewayAddressPool, one
// per Gateway (see the package doc, "Gateways and Envoy listeners").
type addressPool struct {
	prefix netip.Prefix
	// first is the first usable address, size how many there are from it.
	first netip.Addr
	size  uint64
	// owner maps an address to the Gateway (namespace/name) holding it.
	owner map[netip.Addr]string
}

// maxPoolSize bounds the part of a pool the hash spreads Gateways over, so
// that an IPv6 /64 needs no big arithmetic on every lookup; 2^32 addresses
// are more than any control plane will ever hand out.
const maxPoolSize = 1 << 32

func newAddressPool(p netip.Prefix) *addressPool {
	p = p.Masked()
	bits := p.Addr().BitLen() - p.Bits()
	first := p.Addr()
	size := new(big.Int).Lsh(big.NewInt(1), uint(bits))
	// In an IPv4 prefix of four or more addresses, the first and the last
	// (network and broadcast) are left out, as on any subnet; loopback
	// binds them, but a real interface would not.
	if first.Is4() && bits >= 2 {
		first = first.Next()
		size.Sub(size, big.NewInt(2))
	}
	n := uint64(maxPoolSize)
	if size.IsUint64() && size.Uint64() < n {
		n = size.Uint64()
	}
	return &addressPool{prefix: p, first: first, size: n, owner: map[netip.Addr]string{}}
}

// contains reports whether a is one of the pool's usable addresses.
func (p *addressPool) contains(a netip.Addr) bool {
	if !p.prefix.Contains(a) {
		return false
	}
	off, ok := offset(p.first, a)
	return ok && off < p.size
}

// claim gives a to the Gateway key unless another holds it; it returns the
// holder.
func (p *addressPool) claim(a netip.Addr, key string) string {
	if o, ok := p.owner[a]; ok {
		return o
	}
	p.owner[a] = key
	return key
}

// allocate picks the address of a Gateway that requested none: the one at
// the hash of its namespace/name, or the next free one after it (wrapping
// around). Gateways are allocated oldest first, so a new Gateway only ever
// takes a free address and never moves an existing one.
func (p *addressPool) allocate(key string) (netip.Addr, error) {
	h := fnv.New64a()
	h.Write([]byte(key))
	start := h.Sum64() % p.size
	// Only as many addresses as there are owners can be taken: probing one
	// more than that finds a free one if the pool has any.
	probes := uint64(len(p.owner)) + 1
	if probes > p.size {
		probes = p.size
	}
	for i := range probes {
		a := add(p.first, (start+i)%p.size)
		if _, taken := p.owner[a]; !taken {
			p.owner[a] = key
			return a, nil
		}
	}
	return netip.Addr{}, fmt.Errorf("the address pool %s has no free address left", p.prefix)
}

// add returns a plus n.
func add(a netip.Addr, n uint64) netip.Addr {
	b := a.As16()
	carry := n
	for i := 15; i >= 0 && carry > 0; i-- {
		s := uint64(b[i]) + carry&0xff
		b[i] = byte(s)
		carry = carry>>8 + s>>8
	}
	out := netip.AddrFrom16(b)
	if a.Is4() {
		return out.Unmap()
	}
	return out
}

// offset returns a minus first, if a is not before first and the distance
// fits in a uint64.
func offset(first, a netip.Addr) (uint64, bool) {
	x, y := first.As16(), a.As16()
	fx, fy := new(big.Int).SetBytes(x[:]), new(big.Int).SetBytes(y[:])
	d := fy.Sub(fy, fx)
	if d.Sign() < 0 || !d.IsUint64() {
		return 0, false
	}
	return d.Uint64(), true
}
