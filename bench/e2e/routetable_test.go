package main

import (
	"testing"
	"unsafe"

	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	"google.golang.org/protobuf/proto"
)

func host(name string, prefixes ...string) *routev3.VirtualHost {
	vh := &routev3.VirtualHost{Name: name, Domains: []string{name}}
	for i, p := range prefixes {
		m := &routev3.RouteMatch{PathSpecifier: &routev3.RouteMatch_Prefix{Prefix: p}}
		if i%2 == 1 {
			m.PathSpecifier = &routev3.RouteMatch_PathSeparatedPrefix{PathSeparatedPrefix: p}
		}
		vh.Routes = append(vh.Routes, &routev3.Route{Match: m})
	}
	// A route on an exact path counts, and gives no prefix.
	vh.Routes = append(vh.Routes, &routev3.Route{Match: &routev3.RouteMatch{PathSpecifier: &routev3.RouteMatch_Path{Path: "/exact"}}})
	return vh
}

func encode(t *testing.T, hosts ...*routev3.VirtualHost) []byte {
	t.Helper()
	b, err := proto.Marshal(&routev3.RouteConfiguration{Name: "http-8080", VirtualHosts: hosts})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestRouteTableDecodesOnlyTheHostsThatChanged(t *testing.T) {
	var tab routeTable
	b := encode(t, host("a", "/a/", "/a2"), host("b", "/b/"), host("c", "/c/"))
	if name, err := configName(b); err != nil || name != "http-8080" {
		t.Fatalf("configName = %q, %v", name, err)
	}
	if err := tab.update(b); err != nil {
		t.Fatal(err)
	}
	if tab.decoded != 3 || tab.routeCount() != 7 || !tab.hasPrefix("/a2") || !tab.hasPrefix("/b/") || tab.hasPrefix("/exact") {
		t.Fatalf("first table: decoded %d, %d routes, prefixes %+v", tab.decoded, tab.routeCount(), tab.hosts)
	}

	// An edit of host b: only b is decoded again.
	b = encode(t, host("a", "/a/", "/a2"), host("b", "/b-1/", "/b-2/"), host("c", "/c/"))
	if err := tab.update(b); err != nil {
		t.Fatal(err)
	}
	if tab.decoded != 4 || tab.routeCount() != 8 || tab.hasPrefix("/b/") || !tab.hasPrefix("/b-1/") || !tab.hasPrefix("/b-2/") || !tab.hasPrefix("/c/") {
		t.Fatalf("after editing b: decoded %d, %d routes, prefixes %+v", tab.decoded, tab.routeCount(), tab.hosts)
	}
	// Every host's encoding is a slice of the newest response, so older
	// responses are not kept alive.
	start, end := uintptr(unsafe.Pointer(&b[0])), uintptr(unsafe.Pointer(&b[len(b)-1]))
	for i, h := range tab.hosts {
		if p := uintptr(unsafe.Pointer(&h.raw[0])); p < start || p > end {
			t.Errorf("host %d's encoding is not in the newest response", i)
		}
	}

	// A host put first moves the others: they are decoded again, and the
	// table still says what the configuration holds.
	b = encode(t, host("0", "/zero/"), host("a", "/a/", "/a2"), host("b", "/b-1/", "/b-2/"), host("c", "/c/"))
	if err := tab.update(b); err != nil {
		t.Fatal(err)
	}
	if tab.routeCount() != 10 || !tab.hasPrefix("/zero/") || !tab.hasPrefix("/a/") || tab.hasPrefix("/b/") {
		t.Fatalf("after adding a host first: %d routes, prefixes %+v", tab.routeCount(), tab.hosts)
	}

	// And a host removed is gone.
	if err := tab.update(encode(t, host("a", "/a/"))); err != nil {
		t.Fatal(err)
	}
	if tab.routeCount() != 2 || tab.hasPrefix("/zero/") || !tab.hasPrefix("/a/") {
		t.Fatalf("after removing hosts: %d routes, prefixes %+v", tab.routeCount(), tab.hosts)
	}
}

func TestRouteTableRefusesATruncatedConfiguration(t *testing.T) {
	b := encode(t, host("a", "/a/"), host("b", "/b/"))
	var tab routeTable
	if err := tab.update(b[:len(b)-3]); err == nil {
		t.Fatal("a truncated route configuration was read without an error")
	}
	if _, err := configName([]byte{0x0a, 0x05, 'h'}); err == nil {
		t.Fatal("a truncated name was read without an error")
	}
}
