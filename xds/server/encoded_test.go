package server_test

import (
	"bytes"
	"fmt"
	"slices"
	"testing"

	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/protobuf/proto"

	"github.com/legateproxy/legate/translators/ir"
	"github.com/legateproxy/legate/xds"
)

// manyHosts is an IR of n virtual hosts with a route each, one cluster.
func manyHosts(n int) *ir.Config {
	s := site{routeTo: "app", clusters: twoClusters(80, 81)}
	cfg := s.config()
	l := cfg.Listeners[0]
	for i := range n {
		l.VirtualHosts = append(l.VirtualHosts, &ir.VirtualHost{
			Name: fmt.Sprintf("host-%03d", i), Hostnames: []string{fmt.Sprintf("host-%03d.example.com", i)},
			Routes: []*ir.Route{{
				Name:    fmt.Sprintf("HTTPRoute/default/r%d/0/0", i),
				Source:  ir.Source{Kind: "HTTPRoute", Namespace: "default", Name: fmt.Sprintf("r%d", i)},
				Match:   ir.Match{Path: ir.PathMatch{Type: ir.PathPrefix, Value: "/"}},
				Forward: &ir.ForwardAction{Backends: []ir.WeightedBackend{{Cluster: "app", Weight: 1}}},
			}},
		})
	}
	return cfg
}

// The route configurations clients receive, state of the world and
// delta, are byte for byte the deterministic encoding of what was
// published, though the server puts them together from the parts that
// validation kept rather than encoding them; also after a route changed
// and the unchanged virtual hosts' parts were reused.
func TestRouteConfigurationsOnTheWire(t *testing.T) {
	ts := startServer(t)
	var val xds.Validator
	var b xds.Builder
	build := func(cfg *ir.Config) *xds.Resources {
		t.Helper()
		res, err := b.Build(cfg)
		if err != nil {
			t.Fatal(err)
		}
		if err := val.Validate(res); err != nil {
			t.Fatal(err)
		}
		return res
	}
	want := func(res *xds.Resources) []byte {
		t.Helper()
		if len(res.Routes) != 1 {
			t.Fatalf("%d route configurations, want 1", len(res.Routes))
		}
		out, err := proto.MarshalOptions{Deterministic: true}.Marshal(res.Routes[0])
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	cfg := manyHosts(50)
	first := build(cfg)
	ts.publish(t, "", first)

	sotw := openSotW(t, ts.addr, "envoy-s", "")
	rds := sotw.subscribe(resource.RouteType, "http")
	if got := rds.GetResources()[0].GetValue(); !bytes.Equal(got, want(first)) {
		t.Fatalf("SotW route configuration: %d bytes that are not its encoding (%d bytes)", len(got), len(want(first)))
	}
	delta := openDelta(t, ts.addr, "envoy-d", "")
	delta.send(&discovery.DeltaDiscoveryRequest{TypeUrl: resource.RouteType, ResourceNamesSubscribe: []string{"http"}})
	drds := delta.recv(resource.RouteType)
	if got := drds.GetResources()[0].GetResource().GetValue(); !bytes.Equal(got, want(first)) {
		t.Fatalf("delta route configuration: %d bytes that are not its encoding (%d bytes)", len(got), len(want(first)))
	}
	delta.send(&discovery.DeltaDiscoveryRequest{TypeUrl: resource.RouteType, ResponseNonce: drds.GetNonce()})

	// One route changes: a new route in a new virtual host, new listener
	// and config values, every other route the same pointer.
	l := *cfg.Listeners[0]
	l.VirtualHosts = slices.Clone(l.VirtualHosts)
	vh := *l.VirtualHosts[7]
	r := *vh.Routes[0]
	r.Match.Path.Value = "/edited/"
	vh.Routes = []*ir.Route{&r}
	l.VirtualHosts[7] = &vh
	edited := *cfg
	edited.Listeners = []*ir.Listener{&l}
	second := build(&edited)
	if second.Routes[0].VirtualHosts[0] != first.Routes[0].VirtualHosts[0] {
		t.Fatal("the Builder did not reuse an unchanged virtual host, so parts are not reused here")
	}
	ts.publish(t, "", second)
	rds2 := sotw.recv(resource.RouteType)
	if got := rds2.GetResources()[0].GetValue(); !bytes.Equal(got, want(second)) {
		t.Fatalf("SotW route configuration after a change: %d bytes that are not its encoding (%d bytes)", len(got), len(want(second)))
	}
	drds2 := delta.recv(resource.RouteType)
	if got := drds2.GetResources()[0].GetResource().GetValue(); !bytes.Equal(got, want(second)) {
		t.Fatalf("delta route configuration after a change: %d bytes that are not its encoding (%d bytes)", len(got), len(want(second)))
	}
}
