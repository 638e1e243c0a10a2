package server_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"log/slog"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	clusterservice "github.com/envoyproxy/go-control-plane/envoy/service/cluster/v3"
	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/legateproxy/legate/translators/ir"
	"github.com/legateproxy/legate/xds"
	"github.com/legateproxy/legate/xds/server"
)

// quiet is how long a test waits to be sure nothing is sent.
const quiet = 300 * time.Millisecond

func twoClusters(appPort, otherPort uint32) map[string][]ir.Endpoint {
	return map[string][]ir.Endpoint{
		"app":   {ep("10.0.0.1", appPort)},
		"other": {ep("10.0.0.2", otherPort)},
	}
}

func routeCluster(t *testing.T, r *discovery.DiscoveryResponse) string {
	t.Helper()
	if len(r.GetResources()) != 1 {
		t.Fatalf("RDS response has %d resources, want 1", len(r.GetResources()))
	}
	rc := &routev3.RouteConfiguration{}
	if err := r.GetResources()[0].UnmarshalTo(rc); err != nil {
		t.Fatal(err)
	}
	return rc.GetVirtualHosts()[0].GetRoutes()[0].GetRoute().GetCluster()
}

func endpointPorts(t *testing.T, resources []*anypb.Any) map[string][]uint32 {
	t.Helper()
	out := map[string][]uint32{}
	for _, a := range resources {
		cla := &endpointv3.ClusterLoadAssignment{}
		if err := a.UnmarshalTo(cla); err != nil {
			t.Fatal(err)
		}
		for _, l := range cla.GetEndpoints() {
			for _, e := range l.GetLbEndpoints() {
				out[cla.GetClusterName()] = append(out[cla.GetClusterName()], e.GetEndpoint().GetAddress().GetSocketAddress().GetPortValue())
			}
		}
	}
	return out
}

// TestSotWPublishACKAndNACK drives a raw state-of-the-world ADS stream
// through subscription, an unchanged publish (nothing sent), a changed one
// (only the changed type sent), a NACK (recorded, counted, logged once and
// not answered with the rejected version) and a fix (delivered).
func TestSotWPublishACKAndNACK(t *testing.T) {
	ts := startServer(t)
	s1 := site{routeTo: "app", clusters: twoClusters(80, 81)}
	v1, changed := ts.publish(t, "", s1.build(t))
	if !changed {
		t.Fatal("first publish reported no change")
	}

	st := openSotW(t, ts.addr, "envoy-1", "")
	lds := st.subscribe(resource.ListenerType)
	if n := len(lds.GetResources()); n != 1 {
		t.Fatalf("LDS: %d listeners, want 1", n)
	}
	cds := st.subscribe(resource.ClusterType)
	if n := len(cds.GetResources()); n != 2 {
		t.Fatalf("CDS: %d clusters, want 2", n)
	}
	rds := st.subscribe(resource.RouteType, "http")
	if got := routeCluster(t, rds); got != "app" {
		t.Fatalf("route goes to %q, want app", got)
	}
	eds := st.subscribe(resource.EndpointType, "app", "other")
	if got := endpointPorts(t, eds.GetResources()); got["app"][0] != 80 || got["other"][0] != 81 {
		t.Fatalf("endpoints %v", got)
	}

	// The same content again: same version, nothing sent.
	v, changed := ts.publish(t, "", s1.build(t))
	if changed || v != v1 {
		t.Fatalf("identical publish: version %s changed %v, want %s unchanged", v, changed, v1)
	}
	st.none(quiet)

	// The route moves to another cluster: only RDS changes.
	s2 := site{routeTo: "other", clusters: twoClusters(80, 81)}
	v2, changed := ts.publish(t, "", s2.build(t))
	if !changed || v2 == v1 {
		t.Fatalf("changed publish: version %s changed %v", v2, changed)
	}
	rds2 := st.recv(resource.RouteType)
	if got := routeCluster(t, rds2); got != "other" {
		t.Fatalf("route goes to %q, want other", got)
	}
	if rds2.GetVersionInfo() == rds.GetVersionInfo() {
		t.Fatal("RDS version did not change with its content")
	}
	if lds2 := findVersion(ts, "legate", resource.ListenerType); lds2 != lds.GetVersionInfo() {
		t.Fatalf("listener version moved from %s to %s though listeners did not change", lds.GetVersionInfo(), lds2)
	}
	st.ack(rds2, "http")
	st.none(quiet)

	// A version the client rejects.
	s3 := site{routeTo: "app", clusters: twoClusters(80, 81)}
	res3 := s3.build(t)
	editFirstRoute(t, res3, func(r *routev3.Route) { r.Name = "rejected-by-the-client" })
	ts.publish(t, "", res3)
	rds3 := st.recv(resource.RouteType)
	const why = "route: pretend this is invalid"
	st.request(resource.RouteType, rds2.GetVersionInfo(), rds3.GetNonce(), []string{"http"}, why)
	// Without the guard the cache answers the NACK with the same version at
	// once, and again after every NACK.
	st.none(time.Second)
	st.request(resource.RouteType, rds2.GetVersionInfo(), rds3.GetNonce(), []string{"http"}, why)
	st.none(quiet)

	if n := ts.metric(t, "legate_xds_nacks_total", map[string]string{"type_url": resource.RouteType}); n != 2 {
		t.Errorf("legate_xds_nacks_total{RDS} = %v, want 2", n)
	}
	nacks := ts.NACKs()
	if len(nacks) != 1 {
		t.Fatalf("NACKs() = %+v, want one record", nacks)
	}
	if n := nacks[0]; n.NodeID != "envoy-1" || n.TypeURL != resource.RouteType || n.Version != rds3.GetVersionInfo() || n.Error != why || n.Count != 2 {
		t.Errorf("NACK record %+v, want node envoy-1, RDS, version %s, error %q, count 2", n, rds3.GetVersionInfo(), why)
	}
	if c := strings.Count(ts.logs.String(), "rejected a configuration"); c != 1 {
		t.Errorf("the rejection was logged %d times, want once per version", c)
	}

	// A fixed configuration is delivered and ACKed.
	s4 := site{routeTo: "app", clusters: twoClusters(80, 81)}
	res4 := s4.build(t)
	editFirstRoute(t, res4, func(r *routev3.Route) { r.Name = "fixed" })
	ts.publish(t, "", res4)
	rds4 := st.recv(resource.RouteType)
	if rds4.GetVersionInfo() == rds3.GetVersionInfo() {
		t.Fatal("the fix came with the rejected version")
	}
	st.ack(rds4, "http")
	waitFor(t, "the fix to be ACKed", func() bool {
		cs := ts.Clients()
		return len(cs) == 1 && cs[0].Acked[resource.RouteType] == rds4.GetVersionInfo()
	})
	if cs := ts.Clients(); cs[0].Group != "legate" || cs[0].Acked[resource.ListenerType] != lds.GetVersionInfo() {
		t.Errorf("client info %+v", cs[0])
	}
	if n := ts.metric(t, "legate_xds_clients_connected", nil); n != 1 {
		t.Errorf("legate_xds_clients_connected = %v, want 1", n)
	}
}

// TestEndpointOnlyChange: when only endpoints change, only EDS is sent.
func TestEndpointOnlyChange(t *testing.T) {
	ts := startServer(t)
	ts.publish(t, "", site{routeTo: "app", clusters: twoClusters(80, 81)}.build(t))
	st := openSotW(t, ts.addr, "envoy-1", "")
	st.subscribe(resource.ListenerType)
	st.subscribe(resource.ClusterType)
	st.subscribe(resource.RouteType, "http")
	st.subscribe(resource.EndpointType, "app", "other")

	ts.publish(t, "", site{routeTo: "app", clusters: map[string][]ir.Endpoint{
		"app":   {ep("10.0.0.1", 80), ep("10.0.0.3", 80)},
		"other": {ep("10.0.0.2", 81)},
	}}.build(t))
	eds := st.recv(resource.EndpointType)
	if got := endpointPorts(t, eds.GetResources()); len(got["app"]) != 2 || len(got["other"]) != 1 {
		t.Fatalf("endpoints after the change: %v", got)
	}
	st.ack(eds, "app", "other")
	st.none(quiet)
}

// TestDelta: a delta stream gets what it subscribed to, per-resource
// versions are content hashes, an unsubscribed resource is no longer sent,
// and a removed one is reported in removed_resources.
func TestDelta(t *testing.T) {
	ts := startServer(t)
	res := site{routeTo: "app", clusters: twoClusters(80, 81)}.build(t)
	ts.publish(t, "", res)

	st := openDelta(t, ts.addr, "envoy-d", "")
	st.send(&discovery.DeltaDiscoveryRequest{TypeUrl: resource.ClusterType, ResourceNamesSubscribe: []string{"app", "other"}})
	cds := st.recv(resource.ClusterType)
	if got := deltaNames(cds); !slices.Equal(sorted(got), []string{"app", "other"}) {
		t.Fatalf("delta CDS resources %v", got)
	}
	for _, r := range cds.GetResources() {
		c := findCluster(t, res.Clusters, r.GetName())
		if want := contentHash(t, c); r.GetVersion() != want {
			t.Errorf("cluster %s version %q, want the content hash %q", r.GetName(), r.GetVersion(), want)
		}
	}
	st.send(&discovery.DeltaDiscoveryRequest{TypeUrl: resource.ClusterType, ResponseNonce: cds.GetNonce()})
	st.send(&discovery.DeltaDiscoveryRequest{TypeUrl: resource.EndpointType, ResourceNamesSubscribe: []string{"app", "other"}})
	eds := st.recv(resource.EndpointType)
	if got := deltaNames(eds); !slices.Equal(sorted(got), []string{"app", "other"}) {
		t.Fatalf("delta EDS resources %v", got)
	}
	st.send(&discovery.DeltaDiscoveryRequest{TypeUrl: resource.EndpointType, ResponseNonce: eds.GetNonce(), ResourceNamesUnsubscribe: []string{"other"}})
	st.none(quiet)

	// Both assignments change; only the subscribed one is sent.
	ts.publish(t, "", site{routeTo: "app", clusters: twoClusters(90, 91)}.build(t))
	eds2 := st.recv(resource.EndpointType)
	if got := deltaNames(eds2); !slices.Equal(got, []string{"app"}) {
		t.Fatalf("delta EDS after update sent %v, want only app", got)
	}
	if ports := endpointPorts(t, []*anypb.Any{eds2.GetResources()[0].GetResource()}); ports["app"][0] != 90 {
		t.Fatalf("app endpoints %v", ports)
	}
	st.send(&discovery.DeltaDiscoveryRequest{TypeUrl: resource.EndpointType, ResponseNonce: eds2.GetNonce()})
	st.none(quiet)

	// Cluster "other" goes away.
	ts.publish(t, "", site{routeTo: "app", clusters: map[string][]ir.Endpoint{"app": {ep("10.0.0.1", 90)}}}.build(t))
	cds2 := st.recv(resource.ClusterType)
	if len(cds2.GetResources()) != 0 || !slices.Equal(cds2.GetRemovedResources(), []string{"other"}) {
		t.Fatalf("delta CDS after removal: resources %v removed %v, want none and [other]", deltaNames(cds2), cds2.GetRemovedResources())
	}
	st.send(&discovery.DeltaDiscoveryRequest{TypeUrl: resource.ClusterType, ResponseNonce: cds2.GetNonce()})
	st.none(quiet)
	waitFor(t, "the delta ACK to be recorded", func() bool {
		cs := ts.Clients()
		return len(cs) == 1 && cs[0].Delta && cs[0].Acked[resource.ClusterType] == cds2.GetSystemVersionInfo()
	})
}

// TestDeltaNACK: a delta NACK is recorded and not answered.
func TestDeltaNACK(t *testing.T) {
	ts := startServer(t)
	ts.publish(t, "", site{routeTo: "app", clusters: twoClusters(80, 81)}.build(t))
	st := openDelta(t, ts.addr, "envoy-d", "")
	st.send(&discovery.DeltaDiscoveryRequest{TypeUrl: resource.ListenerType})
	lds := st.recv(resource.ListenerType)
	st.send(&discovery.DeltaDiscoveryRequest{
		TypeUrl: resource.ListenerType, ResponseNonce: lds.GetNonce(),
		ErrorDetail: statusMessage("listener: pretend this is invalid"),
	})
	st.none(time.Second)
	waitFor(t, "the delta NACK to be recorded", func() bool {
		n := ts.NACKs()
		return len(n) == 1 && n[0].Version == lds.GetSystemVersionInfo() && n[0].Error == "listener: pretend this is invalid"
	})
	if n := ts.metric(t, "legate_xds_nacks_total", map[string]string{"type_url": resource.ListenerType}); n != 1 {
		t.Errorf("legate_xds_nacks_total{LDS} = %v, want 1", n)
	}
}

// TestNodeGroups: nodes get their group's snapshot; a node of an unknown
// group gets the default group's, follows it, and switches to its own group
// once that is published, on the same stream.
func TestNodeGroups(t *testing.T) {
	ts := startServer(t)
	ts.publish(t, "legate", site{listenerPort: 8080, routeTo: "app", clusters: twoClusters(80, 81)}.build(t))
	ts.publish(t, "blue", site{listenerPort: 9090, routeTo: "app", clusters: twoClusters(80, 81)}.build(t))

	blue := openSotW(t, ts.addr, "blue-1", "blue")
	green := openSotW(t, ts.addr, "green-1", "green")
	plain := openSotW(t, ts.addr, "plain-1", "")
	if p := listenerPort(t, blue.subscribe(resource.ListenerType)); p != 9090 {
		t.Errorf("blue node got listener port %d, want 9090", p)
	}
	if p := listenerPort(t, green.subscribe(resource.ListenerType)); p != 8080 {
		t.Errorf("node of unpublished group green got listener port %d, want the default group's 8080", p)
	}
	if p := listenerPort(t, plain.subscribe(resource.ListenerType)); p != 8080 {
		t.Errorf("node without a group got listener port %d, want 8080", p)
	}

	// The default group changes: its followers get it, blue does not.
	ts.publish(t, "", site{listenerPort: 8081, routeTo: "app", clusters: twoClusters(80, 81)}.build(t))
	for name, st := range map[string]*sotwStream{"green": green, "plain": plain} {
		r := st.recv(resource.ListenerType)
		if p := listenerPort(t, r); p != 8081 {
			t.Errorf("%s node got listener port %d after the default changed, want 8081", name, p)
		}
		st.ack(r)
	}
	blue.none(quiet)

	// Green gets a snapshot of its own.
	ts.publish(t, "green", site{listenerPort: 7070, routeTo: "app", clusters: twoClusters(80, 81)}.build(t))
	r := green.recv(resource.ListenerType)
	if p := listenerPort(t, r); p != 7070 {
		t.Errorf("green node got listener port %d once green was published, want 7070", p)
	}
	green.ack(r)
	plain.none(quiet)

	groups := ts.Groups()
	var names []string
	for _, g := range groups {
		names = append(names, g.Group)
	}
	if !slices.Equal(names, []string{"blue", "green", "legate"}) {
		t.Errorf("groups %v", names)
	}
	if groups[2].Followers != nil {
		t.Errorf("default group still has followers %v after green was published", groups[2].Followers)
	}
}

// TestInvalidResourcesKeepLastGood: a snapshot that fails validation is not
// published; the error names the problem and the last good snapshot keeps
// being served, also to clients that connect afterwards.
func TestInvalidResourcesKeepLastGood(t *testing.T) {
	ts := startServer(t)
	good := site{routeTo: "app", clusters: twoClusters(80, 81)}
	v1, _ := ts.publish(t, "", good.build(t))
	st := openSotW(t, ts.addr, "envoy-1", "")
	rds := st.subscribe(resource.RouteType, "http")

	bad := good.build(t)
	editFirstRoute(t, bad, func(r *routev3.Route) {
		r.GetRoute().ClusterSpecifier = &routev3.RouteAction_Cluster{Cluster: "missing-cluster"}
	})
	v, changed, err := ts.Publish("", bad)
	if err == nil {
		t.Fatal("publishing a route to a missing cluster succeeded")
	}
	if !strings.Contains(err.Error(), "missing-cluster") {
		t.Errorf("error %q does not name the missing cluster", err)
	}
	if changed || v != "" {
		t.Errorf("failed publish returned version %q changed %v", v, changed)
	}
	st.none(quiet)
	if g := ts.Groups(); len(g) != 1 || g[0].Version != v1 {
		t.Errorf("groups after a failed publish: %+v, want version %s", g, v1)
	}
	late := openSotW(t, ts.addr, "envoy-2", "")
	if r := late.subscribe(resource.RouteType, "http"); r.GetVersionInfo() != rds.GetVersionInfo() || routeCluster(t, r) != "app" {
		t.Errorf("a new client got RDS version %s, want the last good %s", r.GetVersionInfo(), rds.GetVersionInfo())
	}
	if n := ts.metric(t, "legate_xds_publishes_total", map[string]string{"group": "legate", "result": "invalid"}); n != 1 {
		t.Errorf("legate_xds_publishes_total{invalid} = %v, want 1", n)
	}
	if n := ts.metric(t, "legate_xds_snapshot_info", map[string]string{"group": "legate", "version": v1}); n != 1 {
		t.Errorf("legate_xds_snapshot_info{legate,%s} = %v, want 1", v1, n)
	}
}

// TestVersionsAreContentHashes: versions depend on content only, not on the
// order resources are listed in, and a change in one type moves only that
// type's version.
func TestVersionsAreContentHashes(t *testing.T) {
	ts := startServer(t)
	res := site{routeTo: "app", clusters: twoClusters(80, 81)}.build(t)
	v1, _ := ts.publish(t, "a", res)
	before := ts.Groups()[0].Versions

	reordered := site{routeTo: "app", clusters: twoClusters(80, 81)}.build(t)
	slices.Reverse(reordered.Clusters)
	slices.Reverse(reordered.Endpoints)
	if v, changed := ts.publish(t, "a", reordered); changed || v != v1 {
		t.Errorf("reordering resources changed the version: %s -> %s", v1, v)
	}
	// The same content under another group has the same version.
	if v, _ := ts.publish(t, "b", res); v != v1 {
		t.Errorf("group b got version %s for the content of version %s", v, v1)
	}

	ts.publish(t, "a", site{routeTo: "app", clusters: twoClusters(80, 82)}.build(t))
	after := ts.Groups()[0].Versions
	for typeURL, v := range after {
		moved := v != before[typeURL]
		if moved != (typeURL == resource.EndpointType) {
			t.Errorf("%s version %s -> %s", typeURL, before[typeURL], v)
		}
	}
}

func listenerPort(t *testing.T, r *discovery.DiscoveryResponse) uint32 {
	t.Helper()
	if len(r.GetResources()) != 1 {
		t.Fatalf("LDS response has %d listeners, want 1", len(r.GetResources()))
	}
	l := &listenerv3.Listener{}
	if err := r.GetResources()[0].UnmarshalTo(l); err != nil {
		t.Fatal(err)
	}
	return l.GetAddress().GetSocketAddress().GetPortValue()
}

func findVersion(ts *testServer, group, typeURL string) string {
	for _, g := range ts.Groups() {
		if g.Group == group {
			return g.Versions[typeURL]
		}
	}
	return ""
}

func findCluster(t *testing.T, list []*xds.Cluster, name string) *clusterv3.Cluster {
	t.Helper()
	for _, c := range list {
		if c.GetName() == name {
			m, err := c.Message()
			if err != nil {
				t.Fatal(err)
			}
			return m
		}
	}
	t.Fatalf("no cluster %q", name)
	return nil
}

// contentHash is the hash go-control-plane documents as the delta
// per-resource version: sha256 of the deterministic encoding.
func contentHash(t *testing.T, m proto.Message) string {
	t.Helper()
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func sorted(in []string) []string {
	out := slices.Clone(in)
	slices.Sort(out)
	return out
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestServeStopsWithOpenStreams: ending Serve's context closes open xDS
// streams and Serve returns promptly, without waiting for clients to leave.
func TestServeStopsWithOpenStreams(t *testing.T) {
	srv := server.New(server.Options{Logger: slog.New(slog.NewTextHandler(testWriter{t}, nil))})
	if _, _, err := srv.Publish("", site{routeTo: "app", clusters: twoClusters(80, 81)}.build(t)); err != nil {
		t.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, lis) }()

	st := openSotW(t, lis.Addr().String(), "envoy-1", "")
	st.subscribe(resource.ClusterType)
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Serve returned %v after its context ended", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return within 5s of its context ending")
	}
	select {
	case _, ok := <-st.resps:
		if ok {
			t.Fatal("got a response instead of the end of the stream")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the client's stream stayed open after the server stopped")
	}
}

// TestPerTypeServices: the non-aggregated services answer too (a client
// that opens one stream per type, e.g. CDS alone).
func TestPerTypeServices(t *testing.T) {
	ts := startServer(t)
	ts.publish(t, "", site{routeTo: "app", clusters: twoClusters(80, 81)}.build(t))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	st, err := clusterservice.NewClusterDiscoveryServiceClient(dial(t, ts.addr)).StreamClusters(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Send(&discovery.DiscoveryRequest{Node: &core.Node{Id: "cds-only"}}); err != nil {
		t.Fatal(err)
	}
	r, err := st.Recv()
	if err != nil {
		t.Fatal(err)
	}
	if r.GetTypeUrl() != resource.ClusterType || len(r.GetResources()) != 2 {
		t.Fatalf("CDS stream got %s with %d resources", r.GetTypeUrl(), len(r.GetResources()))
	}
	waitFor(t, "the CDS stream to be listed", func() bool {
		cs := ts.Clients()
		return len(cs) == 1 && cs[0].TypeURL == resource.ClusterType && cs[0].NodeID == "cds-only"
	})
}
