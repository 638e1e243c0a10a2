package main

import endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"

// endpointSet is what the benchmark's ADS client keeps of the load
// assignments it holds: how many, and how many of them list each address.
// An EndpointSlice edit's condition asks whether an address is there;
// scanning 20k assignments for it on every push (and listing them anew)
// cost the client more CPU than the edit cost Legate, on the cores they
// share.
type endpointSet struct {
	held  int
	addrs map[string]int
}

// add counts the addresses of cla (nil: none).
func (s *endpointSet) add(cla *endpointv3.ClusterLoadAssignment) {
	if s.addrs == nil {
		s.addrs = map[string]int{}
	}
	forAddresses(cla, func(a string) { s.addrs[a]++ })
}

// remove uncounts the addresses of cla (nil: none).
func (s *endpointSet) remove(cla *endpointv3.ClusterLoadAssignment) {
	forAddresses(cla, func(a string) {
		if s.addrs[a]--; s.addrs[a] <= 0 {
			delete(s.addrs, a)
		}
	})
}

func (s *endpointSet) has(a string) bool { return s.addrs[a] > 0 }

func forAddresses(cla *endpointv3.ClusterLoadAssignment, f func(string)) {
	for _, le := range cla.GetEndpoints() {
		for _, e := range le.GetLbEndpoints() {
			if a := e.GetEndpoint().GetAddress().GetSocketAddress().GetAddress(); a != "" {
				f(a)
			}
		}
	}
}

// endpointSetOf counts a full list of load assignments (a state-of-the-
// world response).
func endpointSetOf(clas []*endpointv3.ClusterLoadAssignment) endpointSet {
	s := endpointSet{held: len(clas), addrs: map[string]int{}}
	for _, cla := range clas {
		s.add(cla)
	}
	return s
}
