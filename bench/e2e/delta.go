package main

import (
	"fmt"
	"maps"
	"slices"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
)

// The delta (incremental) xDS variant of the benchmark's ADS client: the
// server sends only the resources that changed, so an EndpointSlice edit
// costs one load assignment on the wire instead of all of them. It
// subscribes as Envoy does with DELTA_GRPC: listeners and clusters as
// wildcards, then route configurations and load assignments by name as
// the listeners and clusters name them; every response is ACKed. The
// figures it serves (routes, endpoints, counts, arrival times) are the
// state-of-the-world client's, so measurements read the same.

// deltaState is what the delta client holds between responses.
type deltaState struct {
	stream    discoveryv3.AggregatedDiscoveryService_DeltaAggregatedResourcesClient
	listeners map[string]*listenerv3.Listener
	clusters  map[string]*clusterv3.Cluster
	endpoints map[string]*endpointv3.ClusterLoadAssignment
	// subscribed are the names asked for, by type (route configurations
	// and load assignments).
	subscribed map[string]map[string]bool
}

func dialDelta(addr, group string) (*ads, error) {
	conn, stream, cancel, err := openStream(addr, discoveryv3.AggregatedDiscoveryServiceClient.DeltaAggregatedResources)
	if err != nil {
		return nil, err
	}
	c := &ads{conn: conn, cancel: cancel, done: make(chan struct{}),
		node: &corev3.Node{Id: "bench", Cluster: group}, counts: map[string]int{},
		routes: map[string]*routeTable{},
		delta: &deltaState{stream: stream,
			listeners: map[string]*listenerv3.Listener{}, clusters: map[string]*clusterv3.Cluster{},
			endpoints:  map[string]*endpointv3.ClusterLoadAssignment{},
			subscribed: map[string]map[string]bool{resource.RouteType: {}, resource.EndpointType: {}}}}
	if err := c.subscribeRoots(func(t string) error {
		return stream.Send(&discoveryv3.DeltaDiscoveryRequest{Node: c.node, TypeUrl: t})
	}); err != nil {
		return nil, err
	}
	go c.receiveDelta()
	return c, nil
}

func (c *ads) receiveDelta() { receiveLoop(c, c.delta.stream.Recv, c.applyDelta) }

// applyDelta applies one delta response, ACKs it, subscribes to the names
// it introduces (and drops those it removed) and wakes the waiters it
// satisfies.
func (c *ads) applyDelta(resp *discoveryv3.DeltaDiscoveryResponse, at time.Time) error {
	d := c.delta
	var routes map[string]*routeTable
	if resp.TypeUrl == resource.RouteType {
		var err error
		if routes, err = c.updateDeltaRoutes(resp); err != nil {
			return err
		}
	}
	// The load assignments replaced (old, then new; nil where none), for
	// the endpoint set.
	var replaced []*endpointv3.ClusterLoadAssignment
	for _, r := range resp.Resources {
		if resp.TypeUrl == resource.RouteType {
			break // read above
		}
		m, err := r.GetResource().UnmarshalNew()
		if err != nil {
			return fmt.Errorf("decoding %s: %w", resp.TypeUrl, err)
		}
		switch x := m.(type) {
		case *listenerv3.Listener:
			d.listeners[r.Name] = x
		case *clusterv3.Cluster:
			d.clusters[r.Name] = x
		case *endpointv3.ClusterLoadAssignment:
			replaced = append(replaced, d.endpoints[r.Name], x)
			d.endpoints[r.Name] = x
		}
	}
	for _, name := range resp.RemovedResources {
		switch resp.TypeUrl {
		case resource.ListenerType:
			delete(d.listeners, name)
		case resource.ClusterType:
			delete(d.clusters, name)
		case resource.EndpointType:
			if old, ok := d.endpoints[name]; ok {
				replaced = append(replaced, old, nil)
			}
			delete(d.endpoints, name)
		}
	}
	if err := d.stream.Send(&discoveryv3.DeltaDiscoveryRequest{Node: c.node, TypeUrl: resp.TypeUrl, ResponseNonce: resp.Nonce}); err != nil {
		return fmt.Errorf("ACK of %s: %w", resp.TypeUrl, err)
	}
	switch resp.TypeUrl {
	case resource.ListenerType:
		var names []string
		for _, l := range d.listeners {
			names = append(names, routeNames(l)...)
		}
		if err := c.resubscribe(resource.RouteType, names); err != nil {
			return err
		}
	case resource.ClusterType:
		var names []string
		for _, cl := range d.clusters {
			if cl.GetType() == clusterv3.Cluster_EDS {
				n := cl.GetEdsClusterConfig().GetServiceName()
				if n == "" {
					n = cl.Name
				}
				names = append(names, n)
			}
		}
		if err := c.resubscribe(resource.EndpointType, names); err != nil {
			return err
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.counts[resp.TypeUrl]++
	c.edsWanted = len(d.subscribed[resource.EndpointType])
	switch resp.TypeUrl {
	case resource.RouteType:
		c.routes = routes
	case resource.EndpointType:
		for i := 0; i < len(replaced); i += 2 {
			c.endpoints.remove(replaced[i])
			c.endpoints.add(replaced[i+1])
		}
		c.endpoints.held = len(d.endpoints)
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

// updateDeltaRoutes reads the route configurations of a delta response:
// the held tables, with those it sends updated and those it removes gone.
func (c *ads) updateDeltaRoutes(resp *discoveryv3.DeltaDiscoveryResponse) (map[string]*routeTable, error) {
	c.mu.Lock()
	out := maps.Clone(c.routes)
	c.mu.Unlock()
	for _, r := range resp.Resources {
		next, err := out[r.Name].updated(r.GetResource().GetValue())
		if err != nil {
			return nil, fmt.Errorf("route configuration %q: %w", r.Name, err)
		}
		out[r.Name] = next
	}
	for _, name := range resp.RemovedResources {
		delete(out, name)
	}
	return out, nil
}

// resubscribe asks for the names newly wanted of a type and drops the
// ones no longer wanted.
func (c *ads) resubscribe(typ string, names []string) error {
	have := c.delta.subscribed[typ]
	want := make(map[string]bool, len(names))
	var add, drop []string
	for _, n := range names {
		want[n] = true
		if !have[n] {
			add = append(add, n)
		}
	}
	for n := range have {
		if !want[n] {
			drop = append(drop, n)
		}
	}
	if len(add) == 0 && len(drop) == 0 {
		return nil
	}
	c.mu.Lock()
	c.delta.subscribed[typ] = want
	c.mu.Unlock()
	slices.Sort(add)
	slices.Sort(drop)
	err := c.delta.stream.Send(&discoveryv3.DeltaDiscoveryRequest{Node: c.node, TypeUrl: typ,
		ResourceNamesSubscribe: add, ResourceNamesUnsubscribe: drop})
	if err != nil {
		return fmt.Errorf("subscribing to %s: %w", typ, err)
	}
	return nil
}
