// Package xds turns the IR into Envoy resources: one file per Envoy concept
// (listener.go, route.go, cluster.go, endpoint.go, secret.go), a deep
// validator (validate.go) that every resource passes before it is
// published, and the Envoy bootstrap (bootstrap.go). Envoy knowledge lives
// only here and in xds/server.
package xds

import (
	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
)

// Resources is one complete set of Envoy resources for a data-plane group,
// each list sorted by resource name.
type Resources struct {
	Listeners []*listenerv3.Listener
	Routes    []*routev3.RouteConfiguration
	Clusters  []*clusterv3.Cluster
	Endpoints []*endpointv3.ClusterLoadAssignment
	Secrets   []*tlsv3.Secret
}
