package gatewayapi

import (
	"fmt"
	"net/netip"
	"testing"
)

// TestAddressPoolStable allocates addresses to 50 Gateways, then to the
// same 50 plus 20 younger ones: the first 50 keep their addresses, every
// address is distinct and inside the pool's usable range.
func TestAddressPoolStable(t *testing.T) {
	alloc := func(n int) map[string]netip.Addr {
		p := newAddressPool(netip.MustParsePrefix("127.0.10.0/24"))
		out := map[string]netip.Addr{}
		for i := range n {
			key := fmt.Sprintf("ns/gw-%d", i)
			a, err := p.allocate(key)
			if err != nil {
				t.Fatal(err)
			}
			out[key] = a
		}
		return out
	}
	before, after := alloc(50), alloc(70)
	seen := map[netip.Addr]string{}
	for k, a := range after {
		if o, dup := seen[a]; dup {
			t.Errorf("%s and %s both got %s", k, o, a)
		}
		seen[a] = k
		if !netip.MustParsePrefix("127.0.10.0/24").Contains(a) || a == netip.MustParseAddr("127.0.10.0") || a == netip.MustParseAddr("127.0.10.255") {
			t.Errorf("%s got %s, outside the usable range", k, a)
		}
	}
	for k, a := range before {
		if after[k] != a {
			t.Errorf("%s moved from %s to %s when Gateways were added", k, a, after[k])
		}
	}
}

// TestAddressPoolExhausted fills a /30 (two usable addresses) and checks
// the third allocation fails, and that IPv6 and /32 pools work.
func TestAddressPoolExhausted(t *testing.T) {
	p := newAddressPool(netip.MustParsePrefix("127.0.10.0/30"))
	got := map[netip.Addr]bool{}
	for i := range 2 {
		a, err := p.allocate(fmt.Sprint(i))
		if err != nil {
			t.Fatal(err)
		}
		got[a] = true
	}
	if !got[netip.MustParseAddr("127.0.10.1")] || !got[netip.MustParseAddr("127.0.10.2")] {
		t.Errorf("got %v, want .1 and .2", got)
	}
	if _, err := p.allocate("third"); err == nil {
		t.Errorf("a third allocation from a /30 succeeded")
	}
	one := newAddressPool(netip.MustParsePrefix("10.1.2.3/32"))
	if a, err := one.allocate("x"); err != nil || a != netip.MustParseAddr("10.1.2.3") {
		t.Errorf("/32 pool: got %v, %v", a, err)
	}
	v6 := newAddressPool(netip.MustParsePrefix("fd00::/64"))
	a, err := v6.allocate("ns/gw")
	if err != nil || !netip.MustParsePrefix("fd00::/64").Contains(a) || !v6.contains(a) {
		t.Errorf("IPv6 pool: got %v, %v", a, err)
	}
	if v6.contains(netip.MustParseAddr("fd01::1")) || p.contains(netip.MustParseAddr("127.0.10.3")) {
		t.Errorf("contains accepts an address outside the usable range")
	}
}
