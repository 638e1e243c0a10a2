package server_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"maps"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/legateproxy/legate/translators/ir"
	"github.com/legateproxy/legate/xds"
	"github.com/legateproxy/legate/xds/server"
)

// testServer is a Server listening on a loopback port, with its metrics in
// a private registry and its logs in a buffer.
type testServer struct {
	*server.Server
	addr string
	reg  *prometheus.Registry
	logs *syncBuffer
}

func startServer(t *testing.T) *testServer {
	t.Helper()
	reg := prometheus.NewRegistry()
	logs := &syncBuffer{}
	srv := server.New(server.Options{
		Logger:     slog.New(slog.NewTextHandler(io.MultiWriter(logs, testWriter{t}), &slog.HandlerOptions{Level: slog.LevelInfo})),
		Registerer: reg,
	})
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, lis) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Serve: %v", err)
			}
		case <-time.After(15 * time.Second):
			t.Errorf("Serve did not return after its context ended")
		}
	})
	return &testServer{Server: srv, addr: lis.Addr().String(), reg: reg, logs: logs}
}

// publish publishes and fails the test on error.
func (ts *testServer) publish(t *testing.T, group string, res *xds.Resources) (string, bool) {
	t.Helper()
	v, changed, err := ts.Publish(group, res)
	if err != nil {
		t.Fatalf("Publish(%q): %v", group, err)
	}
	return v, changed
}

// metric returns the value of a counter or gauge with the given labels, or
// 0 if it has no such series.
func (ts *testServer) metric(t *testing.T, name string, labels map[string]string) float64 {
	t.Helper()
	families, err := ts.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
	series:
		for _, m := range f.GetMetric() {
			got := map[string]string{}
			for _, lp := range m.GetLabel() {
				got[lp.GetName()] = lp.GetValue()
			}
			for k, v := range labels {
				if got[k] != v {
					continue series
				}
			}
			if m.GetCounter() != nil {
				return m.GetCounter().GetValue()
			}
			return m.GetGauge().GetValue()
		}
	}
	return 0
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// testWriter sends the server's logs to the test log, so that a failing
// test shows what the server did.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func dial(t *testing.T, addr string) *grpc.ClientConn {
	t.Helper()
	cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	return cc
}

// sotwStream is a raw state-of-the-world ADS stream, as Envoy opens one.
type sotwStream struct {
	t      *testing.T
	node   *core.Node
	stream discovery.AggregatedDiscoveryService_StreamAggregatedResourcesClient
	resps  chan *discovery.DiscoveryResponse
}

func openSotW(t *testing.T, addr, nodeID, group string) *sotwStream {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	st, err := discovery.NewAggregatedDiscoveryServiceClient(dial(t, addr)).StreamAggregatedResources(ctx)
	if err != nil {
		t.Fatal(err)
	}
	s := &sotwStream{t: t, node: &core.Node{Id: nodeID, Cluster: group}, stream: st, resps: make(chan *discovery.DiscoveryResponse, 100)}
	go func() {
		for {
			r, err := st.Recv()
			if err != nil {
				close(s.resps)
				return
			}
			s.resps <- r
		}
	}()
	return s
}

// request sends a discovery request. The node is sent on every request,
// which is allowed and keeps the helper simple.
func (s *sotwStream) request(typeURL, version, nonce string, names []string, nackMessage string) {
	s.t.Helper()
	req := &discovery.DiscoveryRequest{
		Node: s.node, TypeUrl: typeURL, VersionInfo: version, ResponseNonce: nonce, ResourceNames: names,
	}
	if nackMessage != "" {
		req.ErrorDetail = statusMessage(nackMessage)
	}
	if err := s.stream.Send(req); err != nil {
		s.t.Fatalf("sending %s request: %v", typeURL, err)
	}
}

// subscribe asks for a type, receives the response and ACKs it.
func (s *sotwStream) subscribe(typeURL string, names ...string) *discovery.DiscoveryResponse {
	s.t.Helper()
	s.request(typeURL, "", "", names, "")
	r := s.recv(typeURL)
	s.ack(r, names...)
	return r
}

func (s *sotwStream) ack(r *discovery.DiscoveryResponse, names ...string) {
	s.t.Helper()
	s.request(r.GetTypeUrl(), r.GetVersionInfo(), r.GetNonce(), names, "")
}

// recv waits for the next response, which must be of typeURL.
func (s *sotwStream) recv(typeURL string) *discovery.DiscoveryResponse {
	s.t.Helper()
	return s.recvOneOf(typeURL)
}

// recvOneOf receives the next response, which must be of one of typeURLs.
func (s *sotwStream) recvOneOf(typeURLs ...string) *discovery.DiscoveryResponse {
	s.t.Helper()
	select {
	case r, ok := <-s.resps:
		if !ok {
			s.t.Fatalf("stream ended while waiting for %v", typeURLs)
		}
		if !slices.Contains(typeURLs, r.GetTypeUrl()) {
			s.t.Fatalf("got a %s response (version %s), want %v", r.GetTypeUrl(), r.GetVersionInfo(), typeURLs)
		}
		return r
	case <-time.After(5 * time.Second):
		s.t.Fatalf("no %v response within 5s", typeURLs)
	}
	return nil
}

// none checks that no response arrives for d.
func (s *sotwStream) none(d time.Duration) {
	s.t.Helper()
	select {
	case r, ok := <-s.resps:
		if ok {
			s.t.Fatalf("unexpected %s response, version %s, %d resources", r.GetTypeUrl(), r.GetVersionInfo(), len(r.GetResources()))
		}
		s.t.Fatalf("stream ended")
	case <-time.After(d):
	}
}

// deltaStream is a raw delta ADS stream.
type deltaStream struct {
	t      *testing.T
	node   *core.Node
	stream discovery.AggregatedDiscoveryService_DeltaAggregatedResourcesClient
	resps  chan *discovery.DeltaDiscoveryResponse
}

func openDelta(t *testing.T, addr, nodeID, group string) *deltaStream {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	st, err := discovery.NewAggregatedDiscoveryServiceClient(dial(t, addr)).DeltaAggregatedResources(ctx)
	if err != nil {
		t.Fatal(err)
	}
	s := &deltaStream{t: t, node: &core.Node{Id: nodeID, Cluster: group}, stream: st, resps: make(chan *discovery.DeltaDiscoveryResponse, 100)}
	go func() {
		for {
			r, err := st.Recv()
			if err != nil {
				close(s.resps)
				return
			}
			s.resps <- r
		}
	}()
	return s
}

func (s *deltaStream) send(req *discovery.DeltaDiscoveryRequest) {
	s.t.Helper()
	req.Node = s.node
	if err := s.stream.Send(req); err != nil && !errors.Is(err, io.EOF) {
		s.t.Fatalf("sending delta %s request: %v", req.GetTypeUrl(), err)
	}
}

func (s *deltaStream) recv(typeURL string) *discovery.DeltaDiscoveryResponse {
	s.t.Helper()
	return s.recvOneOf(typeURL)
}

// recvOneOf receives the next response, which must be of one of typeURLs.
func (s *deltaStream) recvOneOf(typeURLs ...string) *discovery.DeltaDiscoveryResponse {
	s.t.Helper()
	select {
	case r, ok := <-s.resps:
		if !ok {
			s.t.Fatalf("stream ended while waiting for %v", typeURLs)
		}
		if !slices.Contains(typeURLs, r.GetTypeUrl()) {
			s.t.Fatalf("got a delta %s response, want %v", r.GetTypeUrl(), typeURLs)
		}
		return r
	case <-time.After(5 * time.Second):
		s.t.Fatalf("no delta %v response within 5s", typeURLs)
	}
	return nil
}

func (s *deltaStream) none(d time.Duration) {
	s.t.Helper()
	select {
	case r, ok := <-s.resps:
		if ok {
			s.t.Fatalf("unexpected delta %s response: %v removed %v", r.GetTypeUrl(), deltaNames(r), r.GetRemovedResources())
		}
		s.t.Fatalf("stream ended")
	case <-time.After(d):
	}
}

func deltaNames(r *discovery.DeltaDiscoveryResponse) []string {
	var out []string
	for _, res := range r.GetResources() {
		out = append(out, res.GetName())
	}
	return out
}

// site is a small IR: one HTTP listener whose only route forwards to
// routeTo, and EDS clusters with the given endpoints.
type site struct {
	listenerPort uint32
	routeTo      string
	clusters     map[string][]ir.Endpoint
}

func (s site) config() *ir.Config {
	port := s.listenerPort
	if port == 0 {
		port = 8080
	}
	cfg := &ir.Config{
		Listeners: []*ir.Listener{{
			Name: "http", Address: "0.0.0.0", Port: port, Protocol: ir.ProtocolHTTP,
			VirtualHosts: []*ir.VirtualHost{{
				Name: "app", Hostnames: []string{"*"},
				Routes: []*ir.Route{{
					Name:    "Ingress/default/app/0/0",
					Source:  ir.Source{Kind: "Ingress", Namespace: "default", Name: "app"},
					Match:   ir.Match{Path: ir.PathMatch{Type: ir.PathPrefix, Value: "/"}},
					Forward: &ir.ForwardAction{Backends: []ir.WeightedBackend{{Cluster: s.routeTo, Weight: 1}}},
				}},
			}},
		}},
	}
	for _, name := range sortedKeys(s.clusters) {
		cfg.Clusters = append(cfg.Clusters, &ir.Cluster{
			Name: name, Kind: ir.ClusterEDS, Endpoints: s.clusters[name],
			Source: ir.Source{Kind: "Service", Namespace: "default", Name: name},
		})
	}
	return cfg
}

func (s site) build(t *testing.T) *xds.Resources {
	t.Helper()
	res, err := xds.Build(s.config())
	if err != nil {
		t.Fatalf("xds.Build: %v", err)
	}
	return res
}

// editFirstRoute replaces the first route of res's first route
// configuration, which is kept encoded, with a copy that edit changed.
func editFirstRoute(t *testing.T, res *xds.Resources, edit func(*routev3.Route)) {
	t.Helper()
	rc, err := res.Routes[0].Message()
	if err != nil {
		t.Fatal(err)
	}
	edit(rc.VirtualHosts[0].Routes[0])
	res.Routes[0] = xds.NewRouteConfiguration(rc)
}

func ep(addr string, port uint32) ir.Endpoint {
	return ir.Endpoint{Address: addr, Port: port, Ready: true}
}

func sortedKeys[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }

// statusMessage is the error_detail of a NACK (code 3, INVALID_ARGUMENT, as
// Envoy sends).
func statusMessage(msg string) *status.Status { return &status.Status{Code: 3, Message: msg} }
