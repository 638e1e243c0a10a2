package kube

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"sync"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/proto"
)

// adsClient is a small state-of-the-world ADS client, as Envoy uses it: one
// stream; LDS and CDS as wildcards; RDS for the route configurations the
// listeners name (plus any given up front); EDS for the EDS clusters; SDS
// for the secrets the listeners name. Every response is ACKed, and the
// newest resources of each type are kept.
type adsClient struct {
	conn   *grpc.ClientConn
	cancel context.CancelFunc
	done   chan struct{}

	mu    sync.Mutex
	state adsState
	// history is every response received, in order.
	history []adsResponse
	// waiters are evaluated after every response, in the receiving
	// goroutine, so the time they report is when the response arrived.
	waiters []*adsWaiter
	err     error

	// Only the receiving goroutine sends after start, so these need no lock.
	stream  discoveryv3.AggregatedDiscoveryService_StreamAggregatedResourcesClient
	names   map[string][]string // subscribed names per type (nil: wildcard)
	lastAck map[string]*discoveryv3.DiscoveryResponse
}

// adsState is what the client holds. Maps are copied on read; the protos
// in them are never modified.
type adsState struct {
	Listeners map[string]*listenerv3.Listener
	Clusters  map[string]*clusterv3.Cluster
	Routes    map[string]*routev3.RouteConfiguration
	Endpoints map[string]*endpointv3.ClusterLoadAssignment
	Secrets   map[string]*tlsv3.Secret
	// Versions per type URL.
	Versions map[string]string
}

// adsResponse records one response.
type adsResponse struct {
	TypeURL   string
	Version   string
	At        time.Time
	Resources []proto.Message
}

type adsWaiter struct {
	cond func(adsState) bool
	at   chan time.Time
}

// dialADS connects to addr as a node of group "legate" and subscribes.
// routeNames are RDS names requested before any listener names them.
func dialADS(ctx context.Context, addr, nodeID string, routeNames ...string) (*adsClient, error) {
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return nil, fmt.Errorf("dialing %s: %w", addr, err)
	}
	sctx, cancel := context.WithCancel(context.Background())
	stream, err := discoveryv3.NewAggregatedDiscoveryServiceClient(conn).StreamAggregatedResources(sctx)
	if err != nil {
		cancel()
		_ = conn.Close()
		return nil, fmt.Errorf("opening ADS stream to %s: %w", addr, err)
	}
	c := &adsClient{
		conn: conn, cancel: cancel, done: make(chan struct{}), stream: stream,
		state: adsState{
			Listeners: map[string]*listenerv3.Listener{},
			Clusters:  map[string]*clusterv3.Cluster{},
			Routes:    map[string]*routev3.RouteConfiguration{},
			Endpoints: map[string]*endpointv3.ClusterLoadAssignment{},
			Secrets:   map[string]*tlsv3.Secret{},
			Versions:  map[string]string{},
		},
		names:   map[string][]string{},
		lastAck: map[string]*discoveryv3.DiscoveryResponse{},
	}
	node := &corev3.Node{Id: nodeID, Cluster: "legate"}
	if len(routeNames) > 0 {
		c.names[resource.RouteType] = sortedUnique(routeNames)
	}
	first := []*discoveryv3.DiscoveryRequest{
		{Node: node, TypeUrl: resource.ListenerType},
		{Node: node, TypeUrl: resource.ClusterType},
	}
	if len(routeNames) > 0 {
		first = append(first, &discoveryv3.DiscoveryRequest{Node: node, TypeUrl: resource.RouteType, ResourceNames: c.names[resource.RouteType]})
	}
	for _, req := range first {
		if err := stream.Send(req); err != nil {
			c.Close()
			return nil, fmt.Errorf("subscribing to %s: %w", req.TypeUrl, err)
		}
	}
	go c.receive(node)
	return c, nil
}

// Close ends the stream and the connection.
func (c *adsClient) Close() {
	c.cancel()
	_ = c.conn.Close()
	<-c.done
}

// Err is the error that ended the stream, if it ended.
func (c *adsClient) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// State is a copy of what the client holds now.
func (c *adsClient) State() adsState {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.state.clone()
}

// History is every response received so far, oldest first.
func (c *adsClient) History() []adsResponse {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.history)
}

// WaitFor returns the time of the response after which cond first held (or
// now, if it holds already), or an error when timeout passes or the stream
// ends first.
func (c *adsClient) WaitFor(timeout time.Duration, cond func(adsState) bool) (time.Time, error) {
	w := &adsWaiter{cond: cond, at: make(chan time.Time, 1)}
	c.mu.Lock()
	if cond(c.state) {
		c.mu.Unlock()
		return time.Now(), nil
	}
	c.waiters = append(c.waiters, w)
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		c.waiters = slices.DeleteFunc(c.waiters, func(x *adsWaiter) bool { return x == w })
		c.mu.Unlock()
	}()
	select {
	case at := <-w.at:
		return at, nil
	case <-c.done:
		return time.Time{}, fmt.Errorf("ADS stream ended: %w", c.Err())
	case <-time.After(timeout):
		return time.Time{}, fmt.Errorf("condition not met within %s", timeout)
	}
}

func (c *adsClient) receive(node *corev3.Node) {
	defer close(c.done)
	for {
		resp, err := c.stream.Recv()
		if err != nil {
			c.mu.Lock()
			if errors.Is(err, io.EOF) {
				err = errors.New("server closed the stream")
			}
			c.err = err
			c.mu.Unlock()
			return
		}
		at := time.Now()
		if err := c.apply(resp, at); err != nil {
			c.mu.Lock()
			c.err = err
			c.mu.Unlock()
			return
		}
		c.lastAck[resp.TypeUrl] = resp
		if err := c.send(node, resp.TypeUrl); err != nil {
			c.mu.Lock()
			c.err = fmt.Errorf("ACK: %w", err)
			c.mu.Unlock()
			return
		}
		// New listeners or clusters may name new route configurations,
		// secrets or EDS clusters: follow them, as Envoy does.
		if err := c.resubscribe(node); err != nil {
			c.mu.Lock()
			c.err = fmt.Errorf("resubscribing: %w", err)
			c.mu.Unlock()
			return
		}
	}
}

// apply decodes a response into the state and wakes the waiters it
// satisfies.
func (c *adsClient) apply(resp *discoveryv3.DiscoveryResponse, at time.Time) error {
	var msgs []proto.Message
	for _, a := range resp.Resources {
		m, err := a.UnmarshalNew()
		if err != nil {
			return fmt.Errorf("decoding %s: %w", resp.TypeUrl, err)
		}
		msgs = append(msgs, m)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	s := &c.state
	switch resp.TypeUrl {
	case resource.ListenerType:
		s.Listeners = byName(msgs, func(m *listenerv3.Listener) string { return m.Name })
	case resource.ClusterType:
		s.Clusters = byName(msgs, func(m *clusterv3.Cluster) string { return m.Name })
	case resource.RouteType:
		s.Routes = byName(msgs, func(m *routev3.RouteConfiguration) string { return m.Name })
	case resource.EndpointType:
		s.Endpoints = byName(msgs, func(m *endpointv3.ClusterLoadAssignment) string { return m.ClusterName })
	case resource.SecretType:
		s.Secrets = byName(msgs, func(m *tlsv3.Secret) string { return m.Name })
	default:
		return fmt.Errorf("unexpected type %s", resp.TypeUrl)
	}
	s.Versions[resp.TypeUrl] = resp.VersionInfo
	c.history = append(c.history, adsResponse{TypeURL: resp.TypeUrl, Version: resp.VersionInfo, At: at, Resources: msgs})
	c.waiters = slices.DeleteFunc(c.waiters, func(w *adsWaiter) bool {
		if !w.cond(c.state) {
			return false
		}
		w.at <- at
		return true
	})
	return nil
}

// send (re)requests typeURL with its subscribed names, ACKing the last
// response of that type.
func (c *adsClient) send(node *corev3.Node, typeURL string) error {
	req := &discoveryv3.DiscoveryRequest{Node: node, TypeUrl: typeURL, ResourceNames: c.names[typeURL]}
	if last := c.lastAck[typeURL]; last != nil {
		req.VersionInfo, req.ResponseNonce = last.VersionInfo, last.Nonce
	}
	return c.stream.Send(req)
}

func (c *adsClient) resubscribe(node *corev3.Node) error {
	c.mu.Lock()
	routes, secrets := referencedByListeners(c.state.Listeners)
	routes = sortedUnique(append(routes, c.names[resource.RouteType]...))
	var eds []string
	for _, cl := range c.state.Clusters {
		if cl.GetType() == clusterv3.Cluster_EDS {
			eds = append(eds, cl.Name)
		}
	}
	eds = sortedUnique(eds)
	c.mu.Unlock()
	for _, sub := range []struct {
		typeURL string
		names   []string
	}{{resource.RouteType, routes}, {resource.EndpointType, eds}, {resource.SecretType, sortedUnique(secrets)}} {
		_, subscribed := c.names[sub.typeURL]
		if len(sub.names) == 0 && !subscribed {
			continue // an empty first request would be a wildcard
		}
		if subscribed && slices.Equal(c.names[sub.typeURL], sub.names) {
			continue
		}
		c.names[sub.typeURL] = sub.names
		if err := c.send(node, sub.typeURL); err != nil {
			return err
		}
	}
	return nil
}

// referencedByListeners returns the RDS and SDS names the listeners use.
func referencedByListeners(listeners map[string]*listenerv3.Listener) (routes, secrets []string) {
	for _, l := range listeners {
		for _, fc := range l.FilterChains {
			for _, f := range fc.Filters {
				hcm := &hcmv3.HttpConnectionManager{}
				if f.GetTypedConfig() == nil || f.GetTypedConfig().UnmarshalTo(hcm) != nil {
					continue
				}
				if rds := hcm.GetRds(); rds != nil {
					routes = append(routes, rds.RouteConfigName)
				}
			}
			if ts := fc.GetTransportSocket().GetTypedConfig(); ts != nil {
				dtc := &tlsv3.DownstreamTlsContext{}
				if ts.UnmarshalTo(dtc) == nil {
					for _, sds := range dtc.GetCommonTlsContext().GetTlsCertificateSdsSecretConfigs() {
						secrets = append(secrets, sds.Name)
					}
				}
			}
		}
	}
	return routes, secrets
}

func (s adsState) clone() adsState {
	return adsState{
		Listeners: maps.Clone(s.Listeners),
		Clusters:  maps.Clone(s.Clusters),
		Routes:    maps.Clone(s.Routes),
		Endpoints: maps.Clone(s.Endpoints),
		Secrets:   maps.Clone(s.Secrets),
		Versions:  maps.Clone(s.Versions),
	}
}

// VirtualHost finds a virtual host by name in route configuration rc.
func (s adsState) VirtualHost(rc, name string) *routev3.VirtualHost {
	for _, vh := range s.Routes[rc].GetVirtualHosts() {
		if vh.Name == name {
			return vh
		}
	}
	return nil
}

// Route finds a route by name in virtual host vhost of rc.
func (s adsState) Route(rc, vhost, name string) *routev3.Route {
	for _, r := range s.VirtualHost(rc, vhost).GetRoutes() {
		if r.Name == name {
			return r
		}
	}
	return nil
}

// EndpointAddresses lists "ip:port" of every endpoint of cluster.
func (s adsState) EndpointAddresses(cluster string) []string {
	var out []string
	for _, le := range s.Endpoints[cluster].GetEndpoints() {
		for _, lb := range le.LbEndpoints {
			sa := lb.GetEndpoint().GetAddress().GetSocketAddress()
			out = append(out, fmt.Sprintf("%s:%d", sa.GetAddress(), sa.GetPortValue()))
		}
	}
	slices.Sort(out)
	return out
}

func byName[M proto.Message](msgs []proto.Message, name func(M) string) map[string]M {
	out := make(map[string]M, len(msgs))
	for _, m := range msgs {
		if t, ok := m.(M); ok {
			out[name(t)] = t
		}
	}
	return out
}

func sortedUnique(in []string) []string {
	out := slices.Clone(in)
	slices.Sort(out)
	return slices.Compact(out)
}
