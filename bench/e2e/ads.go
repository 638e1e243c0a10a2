package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/anypb"
)

// ads is a minimal state-of-the-world ADS client that behaves as Envoy does
// for what the benchmark needs: LDS and CDS as wildcards, RDS for the route
// configurations the listeners name, EDS for the EDS clusters; every
// response is ACKed. It keeps the newest route configurations and load
// assignments, counts responses per type, and stamps each response with the
// time it came off the stream (before decoding), which is what the latency
// figures measure to.
type ads struct {
	conn   *grpc.ClientConn
	cancel context.CancelFunc
	stream discoveryv3.AggregatedDiscoveryService_StreamAggregatedResourcesClient
	node   *corev3.Node
	done   chan struct{}
	// delta, when set, is the incremental (delta xDS) stream used instead
	// of stream (see delta.go).
	delta *deltaState

	mu sync.Mutex
	// routes are the route configurations held, by name (see routeTable).
	routes    map[string]*routeTable
	endpoints endpointSet
	counts    map[string]int
	// edsWanted is how many load assignments the client subscribed to.
	edsWanted int
	waiters   []*waiter
	err       error

	// Used by the receiving goroutine only.
	subscribed map[string][]string
}

type waiter struct {
	cond func(*ads) bool
	at   chan time.Time
}

// deltaClient makes dialADS open delta xDS streams (-delta).
var deltaClient bool

func dialADS(addr, group string) (*ads, error) {
	if deltaClient {
		return dialDelta(addr, group)
	}
	conn, stream, cancel, err := openStream(addr, discoveryv3.AggregatedDiscoveryServiceClient.StreamAggregatedResources)
	if err != nil {
		return nil, err
	}
	c := &ads{conn: conn, cancel: cancel, stream: stream, done: make(chan struct{}),
		node: &corev3.Node{Id: "bench", Cluster: group}, counts: map[string]int{},
		routes: map[string]*routeTable{}, subscribed: map[string][]string{}}
	if err := c.subscribeRoots(func(t string) error {
		return stream.Send(&discoveryv3.DiscoveryRequest{Node: c.node, TypeUrl: t})
	}); err != nil {
		return nil, err
	}
	go c.receive()
	return c, nil
}

// subscribeRoots asks for every listener and cluster, as Envoy does first
// (routes and endpoints follow from them); on failure it closes c.
func (c *ads) subscribeRoots(send func(typeURL string) error) error {
	for _, t := range []string{resource.ListenerType, resource.ClusterType} {
		if err := send(t); err != nil {
			c.Close()
			return fmt.Errorf("subscribing to %s: %w", t, err)
		}
	}
	return nil
}

// openStream dials addr and opens an ADS stream with open (state of the
// world or delta); cancel ends the stream.
func openStream[S any](addr string, open func(discoveryv3.AggregatedDiscoveryServiceClient, context.Context, ...grpc.CallOption) (S, error)) (*grpc.ClientConn, S, context.CancelFunc, error) {
	var none S
	conn, err := dialConn(addr)
	if err != nil {
		return nil, none, nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	stream, err := open(discoveryv3.NewAggregatedDiscoveryServiceClient(conn), ctx)
	if err != nil {
		cancel()
		_ = conn.Close()
		return nil, none, nil, fmt.Errorf("opening ADS stream: %w", err)
	}
	return conn, stream, cancel, nil
}

// Envoy's default HTTP/2 initial windows (Http2ProtocolOptions
// initial_stream_window_size and initial_connection_window_size).
const (
	envoyStreamWindow = 16 << 20
	envoyConnWindow   = 24 << 20
)

// dialConn is the gRPC connection of either client.
func dialConn(addr string) (*grpc.ClientConn, error) {
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()),
		// A 50k-route configuration is far above gRPC's 4 MiB default.
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(1<<30)),
		// HTTP/2 flow-control windows as Envoy's defaults (16 MiB per
		// stream, 24 MiB per connection), rather than gRPC's 64 KiB that
		// grow with use: a 5 MB route table is then sent without waiting
		// for window updates, as it is to Envoy.
		grpc.WithInitialWindowSize(envoyStreamWindow), grpc.WithInitialConnWindowSize(envoyConnWindow))
	if err != nil {
		return nil, fmt.Errorf("dialing %s: %w", addr, err)
	}
	return conn, nil
}

func (c *ads) Close() {
	c.cancel()
	_ = c.conn.Close()
	<-c.done
}

// Counts returns how many responses of each type arrived so far.
func (c *ads) Counts() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]int, len(c.counts))
	for k, v := range c.counts {
		out[k] = v
	}
	return out
}

// WaitFor returns the arrival time of the response after which cond first
// held (now, if it holds already). cond runs with the client locked.
func (c *ads) WaitFor(timeout time.Duration, cond func(*ads) bool) (time.Time, error) {
	w := &waiter{cond: cond, at: make(chan time.Time, 1)}
	c.mu.Lock()
	if cond(c) {
		c.mu.Unlock()
		return time.Now(), nil
	}
	c.waiters = append(c.waiters, w)
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		c.waiters = slices.DeleteFunc(c.waiters, func(x *waiter) bool { return x == w })
		c.mu.Unlock()
	}()
	select {
	case at := <-w.at:
		return at, nil
	case <-c.done:
		c.mu.Lock()
		defer c.mu.Unlock()
		return time.Time{}, fmt.Errorf("ADS stream ended: %w", c.err)
	case <-time.After(timeout):
		return time.Time{}, fmt.Errorf("condition not met within %s", timeout)
	}
}

func (c *ads) fail(err error) {
	c.mu.Lock()
	c.err = err
	c.mu.Unlock()
}

func (c *ads) receive() { receiveLoop(c, c.stream.Recv, c.apply) }

// receiveLoop reads responses until the stream ends, stamping each with
// its arrival time before apply decodes it.
func receiveLoop[T any](c *ads, recv func() (T, error), apply func(T, time.Time) error) {
	defer close(c.done)
	for {
		resp, err := recv()
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = errors.New("server closed the stream")
			}
			c.fail(err)
			return
		}
		if err := apply(resp, time.Now()); err != nil {
			c.fail(err)
			return
		}
	}
}

// apply decodes one response, ACKs it, follows the names it introduces and
// wakes the waiters it satisfies.
func (c *ads) apply(resp *discoveryv3.DiscoveryResponse, at time.Time) error {
	var routes map[string]*routeTable
	if resp.TypeUrl == resource.RouteType {
		var err error
		if routes, err = c.updateRoutes(resp.Resources); err != nil {
			return err
		}
	}
	var endpoints []*endpointv3.ClusterLoadAssignment
	var follow string
	var names []string
	for _, a := range resp.Resources {
		if resp.TypeUrl == resource.RouteType {
			break // read above
		}
		m, err := a.UnmarshalNew()
		if err != nil {
			return fmt.Errorf("decoding %s: %w", resp.TypeUrl, err)
		}
		switch r := m.(type) {
		case *listenerv3.Listener:
			follow = resource.RouteType
			names = append(names, routeNames(r)...)
		case *clusterv3.Cluster:
			follow = resource.EndpointType
			if r.GetType() == clusterv3.Cluster_EDS {
				n := r.GetEdsClusterConfig().GetServiceName()
				if n == "" {
					n = r.Name
				}
				names = append(names, n)
			}
		case *endpointv3.ClusterLoadAssignment:
			endpoints = append(endpoints, r)
		}
	}
	// ACK before anything else, as Envoy does once it applied a response.
	if err := c.stream.Send(&discoveryv3.DiscoveryRequest{Node: c.node, TypeUrl: resp.TypeUrl,
		VersionInfo: resp.VersionInfo, ResponseNonce: resp.Nonce, ResourceNames: c.subscribed[resp.TypeUrl]}); err != nil {
		return fmt.Errorf("ACK of %s: %w", resp.TypeUrl, err)
	}
	if follow != "" {
		slices.Sort(names)
		names = slices.Compact(names)
		if !slices.Equal(names, c.subscribed[follow]) {
			c.subscribed[follow] = names
			if err := c.stream.Send(&discoveryv3.DiscoveryRequest{Node: c.node, TypeUrl: follow, ResourceNames: names}); err != nil {
				return fmt.Errorf("subscribing to %s: %w", follow, err)
			}
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.counts[resp.TypeUrl]++
	c.edsWanted = len(c.subscribed[resource.EndpointType])
	switch resp.TypeUrl {
	case resource.RouteType:
		c.routes = routes
	case resource.EndpointType:
		c.endpoints = endpointSetOf(endpoints)
	}
	c.waiters = slices.DeleteFunc(c.waiters, func(w *waiter) bool {
		if !w.cond(c) {
			return false
		}
		w.at <- at
		return true
	})
	return nil
}

// routeNames are the RDS names a listener's HTTP connection managers use.
func routeNames(l *listenerv3.Listener) []string {
	var out []string
	chains := slices.Clone(l.FilterChains)
	if l.DefaultFilterChain != nil {
		chains = append(chains, l.DefaultFilterChain)
	}
	for _, fc := range chains {
		for _, f := range fc.Filters {
			var hcm hcmv3.HttpConnectionManager
			if f.GetTypedConfig() == nil || f.GetTypedConfig().UnmarshalTo(&hcm) != nil {
				continue
			}
			if n := hcm.GetRds().GetRouteConfigName(); n != "" {
				out = append(out, n)
			}
		}
	}
	return out
}

// complete says whether the client holds n routes and every load
// assignment it subscribed to.
func (c *ads) complete(n int) bool {
	return c.routeCount() == n && c.edsWanted > 0 && c.endpoints.held == c.edsWanted
}

// updateRoutes reads the route configurations of a state-of-the-world
// response, which holds all of them: the tables of those it names, each
// updated from the one held under its name, if any.
func (c *ads) updateRoutes(resources []*anypb.Any) (map[string]*routeTable, error) {
	c.mu.Lock()
	held := c.routes
	c.mu.Unlock()
	out := make(map[string]*routeTable, len(resources))
	for _, a := range resources {
		name, err := configName(a.GetValue())
		if err != nil {
			return nil, err
		}
		if out[name], err = held[name].updated(a.GetValue()); err != nil {
			return nil, fmt.Errorf("route configuration %q: %w", name, err)
		}
	}
	return out, nil
}

// routeCount is the number of routes in every route configuration held.
func (c *ads) routeCount() int {
	n := 0
	for _, t := range c.routes {
		n += t.routeCount()
	}
	return n
}

// hasPrefix says whether some route matches on path prefix p (plain or
// path-separated).
func (c *ads) hasPrefix(p string) bool {
	for _, t := range c.routes {
		if t.hasPrefix(p) {
			return true
		}
	}
	return false
}

// hasEndpoint says whether some load assignment holds address a.
func (c *ads) hasEndpoint(a string) bool { return c.endpoints.has(a) }
