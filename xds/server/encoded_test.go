package server_test

import (
	"bytes"
	"fmt"
	"slices"
	"testing"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
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
// published, though the server puts them together from the kept
// encodings of their virtual hosts rather than encoding them; also after a
// route changed and the unchanged virtual hosts were reused.
func TestRouteConfigurationsOnTheWire(t *testing.T) {
	ts := startServer(t)
	var val xds.Validator
	var b xds.Builder
	build := func(cfg *ir.Config) *xds.Resources { t.Helper(); return buildValidated(t, &b, &val, cfg) }
	want := func(res *xds.Resources) []byte {
		t.Helper()
		if len(res.Routes) != 1 {
			t.Fatalf("%d route configurations, want 1", len(res.Routes))
		}
		rc, err := res.Routes[0].Message()
		if err != nil {
			t.Fatal(err)
		}
		out, err := proto.MarshalOptions{Deterministic: true}.Marshal(rc)
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
	if second.Routes[0].VirtualHosts()[0] != first.Routes[0].VirtualHosts()[0] {
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

// Every resource a client receives, of every type, is byte for byte the
// deterministic encoding of the message published, though the server
// encodes a message once and hands the same bytes to later snapshots that
// hold it: checked after an endpoint change (the endpoint fast path's
// xds.Validator.WithEndpoints), after a cluster is added (the lists no
// longer line up) and after one is removed, on a state-of-the-world and a
// delta stream.
func TestEveryTypeOnTheWire(t *testing.T) {
	ts := startServer(t)
	var val xds.Validator
	var b xds.Builder
	clusters := map[string][]ir.Endpoint{}
	for i := range 30 {
		clusters[fmt.Sprintf("svc-%02d", i)] = []ir.Endpoint{ep(fmt.Sprintf("10.0.0.%d", i+1), 8080)}
	}
	s := site{routeTo: "svc-00", clusters: clusters}
	build := func(cfg *ir.Config) *xds.Resources { t.Helper(); return buildValidated(t, &b, &val, cfg) }
	encodings := func(res *xds.Resources) map[string]map[string][]byte {
		t.Helper()
		out := map[string]map[string][]byte{}
		add := func(typeURL, name string, m proto.Message) {
			b, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
			if err != nil {
				t.Fatal(err)
			}
			if out[typeURL] == nil {
				out[typeURL] = map[string][]byte{}
			}
			out[typeURL][name] = b
		}
		for _, c := range res.Clusters {
			m, err := c.Message()
			if err != nil {
				t.Fatal(err)
			}
			add(resource.ClusterType, c.GetName(), m)
		}
		for _, e := range res.Endpoints {
			cla, err := e.Message()
			if err != nil {
				t.Fatal(err)
			}
			add(resource.EndpointType, e.GetName(), cla)
		}
		for _, l := range res.Listeners {
			add(resource.ListenerType, l.GetName(), l)
		}
		for _, kept := range res.Routes {
			r, err := kept.Message()
			if err != nil {
				t.Fatal(err)
			}
			add(resource.RouteType, r.GetName(), r)
		}
		return out
	}
	typeURLs := []string{resource.ClusterType, resource.EndpointType, resource.ListenerType, resource.RouteType}

	cfg := s.config()
	res := build(cfg)
	ts.publish(t, "", res)
	sotw := openSotW(t, ts.addr, "envoy-s", "")
	delta := openDelta(t, ts.addr, "envoy-d", "")
	sotwLatest := map[string]*discovery.DiscoveryResponse{}
	for _, typeURL := range typeURLs {
		sotwLatest[typeURL] = sotw.subscribe(typeURL)
	}
	deltaSeen := map[string]map[string][]byte{}
	// takeDelta takes the next delta response, of one of typeURLs, and
	// ACKs it.
	takeDelta := func(typeURLs ...string) {
		t.Helper()
		r := delta.recvOneOf(typeURLs...)
		typeURL := r.GetTypeUrl()
		if deltaSeen[typeURL] == nil {
			deltaSeen[typeURL] = map[string][]byte{}
		}
		for _, x := range r.GetResources() {
			deltaSeen[typeURL][x.GetName()] = x.GetResource().GetValue()
		}
		for _, name := range r.GetRemovedResources() {
			delete(deltaSeen[typeURL], name)
		}
		delta.send(&discovery.DeltaDiscoveryRequest{TypeUrl: typeURL, ResponseNonce: r.GetNonce()})
	}
	for _, typeURL := range typeURLs {
		delta.send(&discovery.DeltaDiscoveryRequest{TypeUrl: typeURL})
		takeDelta(typeURL)
	}
	check := func(step string, res *xds.Resources) {
		t.Helper()
		want := encodings(res)
		for _, typeURL := range typeURLs {
			got := map[string][]byte{}
			for _, a := range sotwLatest[typeURL].GetResources() {
				got[nameOf(t, typeURL, a.GetValue())] = a.GetValue()
			}
			for _, seen := range []struct {
				stream string
				got    map[string][]byte
			}{{"SotW", got}, {"delta", deltaSeen[typeURL]}} {
				if !slices.Equal(sortedKeys(seen.got), sortedKeys(want[typeURL])) {
					t.Fatalf("%s: %s %s: names %v, published %v", step, seen.stream, typeURL, sortedKeys(seen.got), sortedKeys(want[typeURL]))
				}
				for name, b := range want[typeURL] {
					if !bytes.Equal(seen.got[name], b) {
						t.Fatalf("%s: %s %s %s: %d bytes that are not its encoding (%d bytes)", step, seen.stream, typeURL, name, len(seen.got[name]), len(b))
					}
				}
			}
		}
	}
	check("first", res)

	// An endpoint change, as the endpoint fast path makes it.
	c := *cfg.Clusters[3]
	c.Endpoints = []ir.Endpoint{ep("10.9.9.9", 9090)}
	res2, err := val.WithEndpoints(res, []*ir.Cluster{&c})
	if err != nil {
		t.Fatal(err)
	}
	ts.publish(t, "", res2)
	sotwLatest[resource.EndpointType] = sotw.recv(resource.EndpointType)
	sotw.ack(sotwLatest[resource.EndpointType])
	takeDelta(resource.EndpointType)
	check("endpoint change", res2)
	// And what both streams got for the edited cluster is its new
	// endpoints, not an assignment kept from before.
	servedSotW := map[string][]byte{}
	for _, a := range sotwLatest[resource.EndpointType].GetResources() {
		servedSotW[nameOf(t, resource.EndpointType, a.GetValue())] = a.GetValue()
	}
	for stream, got := range map[string][]byte{"SotW": servedSotW[c.Name], "delta": deltaSeen[resource.EndpointType][c.Name]} {
		cla := &endpointv3.ClusterLoadAssignment{}
		if err := proto.Unmarshal(got, cla); err != nil {
			t.Fatal(err)
		}
		lbs := cla.GetEndpoints()
		if len(lbs) != 1 || len(lbs[0].GetLbEndpoints()) != 1 {
			t.Fatalf("%s: %s served %v after the endpoint change", stream, c.Name, cla)
		}
		if sa := lbs[0].GetLbEndpoints()[0].GetEndpoint().GetAddress().GetSocketAddress(); sa.GetAddress() != "10.9.9.9" || sa.GetPortValue() != 9090 {
			t.Fatalf("%s: %s served %v after the endpoint change, want 10.9.9.9:9090", stream, c.Name, cla)
		}
	}

	// A cluster added: the lists no longer line up with the last
	// publish's. (A removed cluster stays served for the removal grace,
	// retire.go, so the published lists line up again.)
	clusters["svc-15a"] = []ir.Endpoint{ep("10.1.1.1", 80)}
	cfg3 := s.config()
	res3 := build(cfg3)
	ts.publish(t, "", res3)
	// Clusters and endpoints both changed. Each type's cache answers its
	// own watch, and a stream sends whichever answer it picks up first:
	// the order of the two is not fixed (a new cluster's endpoints are
	// asked for once Envoy has the cluster).
	for range 2 {
		r := sotw.recvOneOf(resource.ClusterType, resource.EndpointType)
		sotwLatest[r.GetTypeUrl()] = r
		sotw.ack(r)
		takeDelta(resource.ClusterType, resource.EndpointType)
	}
	check("cluster added", res3)
}

// nameOf is the name of an encoded resource of typeURL.
func nameOf(t *testing.T, typeURL string, b []byte) string {
	t.Helper()
	var m interface {
		proto.Message
		GetName() string
	}
	switch typeURL {
	case resource.ClusterType:
		m = &clusterv3.Cluster{}
	case resource.ListenerType:
		m = &listenerv3.Listener{}
	case resource.RouteType:
		m = &routev3.RouteConfiguration{}
	case resource.EndpointType:
		cla := &endpointv3.ClusterLoadAssignment{}
		if err := proto.Unmarshal(b, cla); err != nil {
			t.Fatal(err)
		}
		return cla.GetClusterName()
	default:
		t.Fatalf("no name for %s", typeURL)
	}
	if err := proto.Unmarshal(b, m); err != nil {
		t.Fatal(err)
	}
	return m.GetName()
}

// buildValidated builds cfg with b and validates the result with val, as
// the pipeline does, so that the resources carry their versions and the
// encodings of their parts.
func buildValidated(t *testing.T, b *xds.Builder, val *xds.Validator, cfg *ir.Config) *xds.Resources {
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
