package server_test

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routerv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/router/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/peer"
	xdsgrpc "google.golang.org/grpc/xds"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/legateproxy/legate/translators/ir"
	"github.com/legateproxy/legate/xds"
)

// apiListenerName is the one listener every target of the gRPC client maps
// to (client_default_listener_resource_name_template has no %s): the dial
// target's host then picks the virtual host.
const apiListenerName = "grpc-clients"

// startBackend runs a gRPC health service on a loopback port; which backend
// answered is told by the peer address of the call.
func startBackend(t *testing.T) *net.TCPAddr {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gs := grpc.NewServer()
	healthpb.RegisterHealthServer(gs, health.NewServer())
	go gs.Serve(lis)
	t.Cleanup(gs.Stop)
	return lis.Addr().(*net.TCPAddr)
}

// grpcSite routes each hostname to a cluster; every cluster is an EDS
// cluster with the backend of the same name as its only endpoint.
func grpcSite(t *testing.T, routes map[string]string, backends map[string]*net.TCPAddr) *xds.Resources {
	t.Helper()
	l := &ir.Listener{Name: "grpc", Address: "0.0.0.0", Port: 8443, Protocol: ir.ProtocolHTTP}
	for _, host := range sortedKeys(routes) {
		l.VirtualHosts = append(l.VirtualHosts, &ir.VirtualHost{
			Name: host, Hostnames: []string{host},
			Routes: []*ir.Route{{
				Name:    "GRPCRoute/default/" + host + "/0/0",
				Source:  ir.Source{Kind: "GRPCRoute", Namespace: "default", Name: host},
				Match:   ir.Match{Path: ir.PathMatch{Type: ir.PathPrefix, Value: "/"}},
				Forward: &ir.ForwardAction{Backends: []ir.WeightedBackend{{Cluster: routes[host], Weight: 1}}},
			}},
		})
	}
	cfg := &ir.Config{Listeners: []*ir.Listener{l}}
	for _, name := range sortedKeys(backends) {
		cfg.Clusters = append(cfg.Clusters, &ir.Cluster{
			Name: name, Kind: ir.ClusterEDS, Protocol: ir.UpstreamHTTP2,
			Source:    ir.Source{Kind: "Service", Namespace: "default", Name: name},
			Endpoints: []ir.Endpoint{ep(backends[name].IP.String(), uint32(backends[name].Port))},
		})
	}
	res, err := xds.Build(cfg)
	if err != nil {
		t.Fatalf("xds.Build: %v", err)
	}
	// gRPC clients read only API listeners; Envoy's socket listener stays
	// in the snapshot beside it, as it would in a shared group.
	res.Listeners = append(res.Listeners, apiListener(t, xds.HTTPRouteConfigName("grpc")))
	return res
}

func apiListener(t *testing.T, routeConfig string) *listenerv3.Listener {
	t.Helper()
	router, err := anypb.New(&routerv3.Router{})
	if err != nil {
		t.Fatal(err)
	}
	hcm, err := anypb.New(&hcmv3.HttpConnectionManager{
		StatPrefix: "grpc",
		RouteSpecifier: &hcmv3.HttpConnectionManager_Rds{Rds: &hcmv3.Rds{
			ConfigSource: &core.ConfigSource{
				ConfigSourceSpecifier: &core.ConfigSource_Ads{Ads: &core.AggregatedConfigSource{}},
				ResourceApiVersion:    core.ApiVersion_V3,
			},
			RouteConfigName: routeConfig,
		}},
		HttpFilters: []*hcmv3.HttpFilter{{
			Name:       "envoy.filters.http.router",
			ConfigType: &hcmv3.HttpFilter_TypedConfig{TypedConfig: router},
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return &listenerv3.Listener{Name: apiListenerName, ApiListener: &listenerv3.ApiListener{ApiListener: hcm}}
}

// TestGRPCXDSClient drives grpc-go's own xds:/// resolver and balancers
// against the server: calls reach the backend the route names, and when
// the route is re-pointed calls follow on the same ADS stream.
func TestGRPCXDSClient(t *testing.T) {
	ts := startServer(t)
	backends := map[string]*net.TCPAddr{"alpha": startBackend(t), "beta": startBackend(t), "gamma": startBackend(t)}

	_, _ = ts.publish(t, "", grpcSite(t, map[string]string{"alpha.test": "alpha", "beta.test": "beta"}, backends))

	bootstrap := fmt.Sprintf(`{
		"xds_servers": [{"server_uri": %q, "channel_creds": [{"type": "insecure"}], "server_features": ["xds_v3"]}],
		"node": {"id": "grpc-client-1", "cluster": "legate"},
		"client_default_listener_resource_name_template": %q
	}`, ts.addr, apiListenerName)
	resolver, err := xdsgrpc.NewXDSResolverWithConfigForTesting([]byte(bootstrap))
	if err != nil {
		t.Fatalf("xDS resolver from bootstrap: %v", err)
	}
	client := func(host string) healthpb.HealthClient {
		cc, err := grpc.NewClient("xds:///"+host, grpc.WithTransportCredentials(insecure.NewCredentials()), grpc.WithResolvers(resolver))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cc.Close() })
		return healthpb.NewHealthClient(cc)
	}
	alpha, beta := client("alpha.test"), client("beta.test")

	expectBackend(t, alpha, backends["alpha"], "alpha.test")
	expectBackend(t, beta, backends["beta"], "beta.test")
	opened := ts.metric(t, "legate_xds_streams_opened_total", map[string]string{"protocol": "sotw"})
	if opened < 1 {
		t.Fatalf("no xDS stream was opened")
	}

	// alpha.test now goes to gamma: the client subscribes to the new
	// cluster on its existing stream and its calls follow.
	_, _ = ts.publish(t, "", grpcSite(t, map[string]string{"alpha.test": "gamma", "beta.test": "beta"}, backends))
	expectBackend(t, alpha, backends["gamma"], "alpha.test after the update")
	expectBackend(t, beta, backends["beta"], "beta.test after the update")

	if now := ts.metric(t, "legate_xds_streams_opened_total", map[string]string{"protocol": "sotw"}); now != opened {
		t.Errorf("xDS streams opened went from %v to %v: the client reconnected", opened, now)
	}
	// grpc-go keeps one xDS client, so one ADS stream, per channel target.
	clients := ts.Clients()
	if len(clients) != 2 || opened != 2 {
		t.Errorf("%d streams open, %v opened, want 2: one per channel: %+v", len(clients), opened, clients)
	}
	for _, c := range clients {
		if c.NodeID != "grpc-client-1" || c.Group != "legate" || c.Delta {
			t.Errorf("client %+v, want a state-of-the-world stream of grpc-client-1 in group legate", c)
		}
	}
	if n := ts.NACKs(); len(n) != 0 {
		t.Errorf("the gRPC client rejected resources: %+v", n)
	}
	rds := findVersion(ts, "legate", resource.RouteType)
	waitFor(t, "both streams to ACK the new routes", func() bool {
		for _, c := range ts.Clients() {
			if c.Acked[resource.RouteType] != rds {
				return false
			}
		}
		return true
	})
}

// TestGRPCXDSClientNACK: grpc-go rejects an endpoint assignment whose
// locality has no ID (Envoy accepts it, so validation lets it through; the
// test removes the ID that xds.Build gives). The
// rejection is recorded and not answered with the same version again; the
// fixed assignment, once published, is taken and calls flow.
func TestGRPCXDSClientNACK(t *testing.T) {
	ts := startServer(t)
	backends := map[string]*net.TCPAddr{"alpha": startBackend(t)}
	bad := grpcSite(t, map[string]string{"alpha.test": "alpha"}, backends)
	for i, a := range bad.Endpoints {
		cla, err := a.Message()
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range cla.GetEndpoints() {
			l.Locality = nil
		}
		bad.Endpoints[i] = xds.NewLoadAssignment(cla)
	}
	ts.publish(t, "", bad)

	resolver, err := xdsgrpc.NewXDSResolverWithConfigForTesting([]byte(fmt.Sprintf(`{
		"xds_servers": [{"server_uri": %q, "channel_creds": [{"type": "insecure"}], "server_features": ["xds_v3"]}],
		"node": {"id": "grpc-client-2", "cluster": "legate"},
		"client_default_listener_resource_name_template": %q
	}`, ts.addr, apiListenerName)))
	if err != nil {
		t.Fatalf("xDS resolver from bootstrap: %v", err)
	}
	cc, err := grpc.NewClient("xds:///alpha.test", grpc.WithTransportCredentials(insecure.NewCredentials()), grpc.WithResolvers(resolver))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	cc.Connect()

	waitFor(t, "the EDS NACK", func() bool { return len(ts.NACKs()) == 1 })
	n := ts.NACKs()[0]
	if n.TypeURL != resource.EndpointType || n.Version != findVersion(ts, "legate", resource.EndpointType) || !strings.Contains(n.Error, "locality without ID") {
		t.Errorf("NACK record %+v", n)
	}
	// A loop would add thousands of NACKs a second.
	time.Sleep(time.Second)
	if c := ts.metric(t, "legate_xds_nacks_total", map[string]string{"type_url": resource.EndpointType}); c != 1 {
		t.Errorf("legate_xds_nacks_total{EDS} = %v a second after the first NACK, want 1", c)
	}

	ts.publish(t, "", grpcSite(t, map[string]string{"alpha.test": "alpha"}, backends))
	expectBackend(t, healthpb.NewHealthClient(cc), backends["alpha"], "alpha.test after the fix")
}

// expectBackend calls until a call lands on want (the client needs a moment
// to resolve, and after an update to switch), then checks that the next few
// calls land there too.
func expectBackend(t *testing.T, hc healthpb.HealthClient, want *net.TCPAddr, what string) {
	t.Helper()
	call := func() (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		var p peer.Peer
		if _, err := hc.Check(ctx, &healthpb.HealthCheckRequest{}, grpc.Peer(&p), grpc.WaitForReady(true)); err != nil {
			return "", err
		}
		return p.Addr.String(), nil
	}
	deadline := time.Now().Add(15 * time.Second)
	var last string
	for {
		got, err := call()
		if err == nil && got == want.String() {
			break
		}
		last = fmt.Sprintf("peer %q, error %v", got, err)
		if time.Now().After(deadline) {
			t.Fatalf("%s: calls never reached %s; last: %s", what, want, last)
		}
		time.Sleep(50 * time.Millisecond)
	}
	for i := 0; i < 5; i++ {
		if got, err := call(); err != nil || got != want.String() {
			t.Fatalf("%s: call %d went to %q (error %v), want %s", what, i, got, err, want)
		}
	}
}
