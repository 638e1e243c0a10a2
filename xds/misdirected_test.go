package xds

import (
	"slices"
	"testing"

	"github.com/legateproxy/legate/translators/ir"
)

// TestHTTPSGroupsAndMisdirectedRequests: the virtual hosts of one group
// share a filter chain and route table (a connection made for the group
// may carry any of its hosts), and each table answers 421 for the hosts
// of the other chains.
func TestHTTPSGroupsAndMisdirectedRequests(t *testing.T) {
	tls := &ir.TLSConfig{SecretNames: []string{"s"}}
	vh := func(name, group string) *ir.VirtualHost {
		return &ir.VirtualHost{Name: name, Hostnames: []string{name}, TLS: tls, Group: group}
	}
	l := &ir.Listener{Name: "https", Port: 443, Protocol: ir.ProtocolHTTPS, VirtualHosts: []*ir.VirtualHost{
		vh("*", "any"), vh("example.org", "any"), vh("second.org", "second"), vh("*.wild.org", "wild"), vh("alone.org", ""),
	}}
	l.Address = "127.0.0.1"
	lis, routes, err := buildListener(l)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(lis.GetFilterChains()); n != 4 {
		t.Fatalf("%d filter chains, want 4 (any, second, wild, alone)", n)
	}
	domains := map[string]map[string][]string{} // route table -> virtual host -> domains
	for _, rc := range routes {
		domains[rc.GetName()] = map[string][]string{}
		for _, v := range decodedAll(rc.VirtualHosts()) {
			domains[rc.GetName()][v.GetName()] = v.GetDomains()
			if v.GetName() == MisdirectedVirtualHost && v.GetRoutes()[0].GetDirectResponse().GetStatus() != 421 {
				t.Errorf("%s: misdirected host answers %v", rc.GetName(), v.GetRoutes()[0].GetAction())
			}
		}
	}
	want := map[string]map[string][]string{
		RouteConfigName("https", "*"): {
			"*": {"*"}, "example.org": {"example.org", "example.org:*"},
			MisdirectedVirtualHost: {"*.wild.org", "alone.org", "alone.org:*", "second.org", "second.org:*"},
		},
		RouteConfigName("https", "second.org"): {
			"second.org":           {"second.org", "second.org:*"},
			MisdirectedVirtualHost: {"*", "*.wild.org", "alone.org", "alone.org:*", "example.org", "example.org:*"},
		},
		RouteConfigName("https", "*.wild.org"): {
			"*.wild.org":           {"*.wild.org"},
			MisdirectedVirtualHost: {"*", "alone.org", "alone.org:*", "example.org", "example.org:*", "second.org", "second.org:*"},
		},
		RouteConfigName("https", "alone.org"): {
			"alone.org":            {"alone.org", "alone.org:*"},
			MisdirectedVirtualHost: {"*", "*.wild.org", "example.org", "example.org:*", "second.org", "second.org:*"},
		},
	}
	for rc, vhs := range want {
		for name, d := range vhs {
			if got := domains[rc][name]; !slices.Equal(got, d) {
				t.Errorf("%s: virtual host %s domains %v, want %v", rc, name, got, d)
			}
		}
		if len(domains[rc]) != len(vhs) {
			t.Errorf("%s: virtual hosts %v, want %v", rc, domains[rc], vhs)
		}
	}
}
