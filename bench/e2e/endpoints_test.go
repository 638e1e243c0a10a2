package main

import (
	"testing"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
)

func assignment(addrs ...string) *endpointv3.ClusterLoadAssignment {
	le := &endpointv3.LocalityLbEndpoints{}
	for _, a := range addrs {
		le.LbEndpoints = append(le.LbEndpoints, &endpointv3.LbEndpoint{HostIdentifier: &endpointv3.LbEndpoint_Endpoint{Endpoint: &endpointv3.Endpoint{
			Address: &corev3.Address{Address: &corev3.Address_SocketAddress{SocketAddress: &corev3.SocketAddress{Address: a}}}}}})
	}
	return &endpointv3.ClusterLoadAssignment{Endpoints: []*endpointv3.LocalityLbEndpoints{le}}
}

func TestEndpointSetCountsAddressesAcrossAssignments(t *testing.T) {
	a, b := assignment("10.0.0.1", "10.0.0.2"), assignment("10.0.0.2", "10.0.0.3")
	s := endpointSetOf([]*endpointv3.ClusterLoadAssignment{a, b})
	if s.held != 2 || !s.has("10.0.0.1") || !s.has("10.0.0.2") || !s.has("10.0.0.3") || s.has("10.0.0.4") {
		t.Fatalf("both assignments: %+v", s)
	}
	// a replaced by one without 10.0.0.1; 10.0.0.2 is still b's.
	s.remove(a)
	s.add(assignment("10.0.0.4"))
	if s.has("10.0.0.1") || !s.has("10.0.0.2") || !s.has("10.0.0.4") {
		t.Fatalf("after replacing a: %+v", s)
	}
	s.remove(b)
	s.add(nil)
	if s.has("10.0.0.2") || s.has("10.0.0.3") || len(s.addrs) != 1 {
		t.Fatalf("after removing b: %+v", s)
	}
}
