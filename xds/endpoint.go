package xds

import (
	"net/netip"
	"sort"
	"strings"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/legateproxy/legate/translators/ir"
)

// buildLoadAssignment lists the ready endpoints of a cluster, sorted by
// address and port, in one locality.
//
// Endpoints that are not ready are left out rather than sent as
// UNHEALTHY: Envoy sends them no traffic either way, and leaving them out
// keeps a pod that flaps between ready and not from changing anything but
// this list. An empty assignment is still returned: an EDS cluster waits
// for its assignment before it finishes warming, and one with no endpoints
// answers 503 at once instead.
func buildLoadAssignment(cluster string, endpoints []ir.Endpoint) *endpointv3.ClusterLoadAssignment {
	ready := make([]ir.Endpoint, 0, len(endpoints))
	for _, e := range endpoints {
		if e.Ready {
			ready = append(ready, e)
		}
	}
	sort.SliceStable(ready, func(i, j int) bool {
		if c := compareAddresses(ready[i].Address, ready[j].Address); c != 0 {
			return c < 0
		}
		return ready[i].Port < ready[j].Port
	})
	cla := &endpointv3.ClusterLoadAssignment{ClusterName: cluster}
	if len(ready) == 0 {
		return cla
	}
	// gRPC's xDS client rejects a locality without an ID (an empty one
	// will do) and ignores one whose weight is zero; Envoy needs neither
	// but accepts both.
	locality := &endpointv3.LocalityLbEndpoints{
		Locality:            &corev3.Locality{},
		LoadBalancingWeight: wrapperspb.UInt32(1),
	}
	for i, e := range ready {
		if i > 0 && e == ready[i-1] {
			continue // the same address twice would be two endpoints to Envoy
		}
		lb := &endpointv3.LbEndpoint{
			HostIdentifier: &endpointv3.LbEndpoint_Endpoint{Endpoint: &endpointv3.Endpoint{
				Address: socketAddress(e.Address, e.Port, corev3.SocketAddress_TCP),
			}},
		}
		if e.Weight > 0 {
			lb.LoadBalancingWeight = wrapperspb.UInt32(e.Weight)
		}
		locality.LbEndpoints = append(locality.LbEndpoints, lb)
	}
	cla.Endpoints = []*endpointv3.LocalityLbEndpoints{locality}
	return cla
}

// compareAddresses orders IP addresses numerically (10.0.0.9 before
// 10.0.0.10, IPv4 before IPv6) and anything else, such as DNS names, after
// them as strings.
func compareAddresses(a, b string) int {
	pa, errA := netip.ParseAddr(a)
	pb, errB := netip.ParseAddr(b)
	switch {
	case errA == nil && errB == nil:
		return pa.Compare(pb)
	case errA == nil:
		return -1
	case errB == nil:
		return 1
	}
	return strings.Compare(a, b)
}
