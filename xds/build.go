package xds

import (
	"errors"
	"fmt"
	"sort"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/legateproxy/legate/translators/ir"
)

// Well-known Envoy extension names used in the resources Build makes.
const (
	httpConnectionManagerName = "envoy.filters.network.http_connection_manager"
	tcpProxyName              = "envoy.filters.network.tcp_proxy"
	udpProxyName              = "envoy.filters.udp_listener.udp_proxy"
	routerFilterName          = "envoy.filters.http.router"
	tlsInspectorName          = "envoy.filters.listener.tls_inspector"
	tlsTransportSocketName    = "envoy.transport_sockets.tls"
	httpProtocolOptionsName   = "envoy.extensions.upstreams.http.v3.HttpProtocolOptions"
)

// RouteConfigName is the name of the RouteConfiguration that serves one
// virtual host of an HTTPS listener. Each TLS virtual host gets its own
// filter chain and its own route table so that a certificate only ever
// serves the hosts it was issued for. HTTP listeners have one route table
// named after the listener itself (see HTTPRouteConfigName).
func RouteConfigName(listener, vhost string) string {
	return listener + "/" + vhost
}

// HTTPRouteConfigName is the name of the RouteConfiguration of a plain HTTP
// listener: the listener's name.
func HTTPRouteConfigName(listener string) string {
	return listener
}

// Build turns an IR Config into Envoy resources. It is pure and
// deterministic: the same Config always gives the same resources, every
// resource list sorted by name. Build does not validate its output deeply;
// callers run Validate before publishing.
//
// Build expects a Config that passed ir.Config.Validate; it still returns an
// error (naming the IR element) for what it cannot express in Envoy terms,
// with every such problem joined.
func Build(cfg *ir.Config) (*Resources, error) {
	res := &Resources{}
	if cfg == nil {
		return res, nil
	}
	var errs []error
	for _, l := range cfg.Listeners {
		lis, routes, err := buildListener(l)
		if err != nil {
			errs = append(errs, fmt.Errorf("listener %s: %w", l.Name, err))
			continue
		}
		if lis != nil {
			res.Listeners = append(res.Listeners, lis)
		}
		res.Routes = append(res.Routes, routes...)
	}
	for _, c := range cfg.Clusters {
		cl, err := buildCluster(c)
		if err != nil {
			errs = append(errs, fmt.Errorf("cluster %s: %w", c.Name, err))
			continue
		}
		res.Clusters = append(res.Clusters, cl)
		if c.Kind == ir.ClusterEDS {
			res.Endpoints = append(res.Endpoints, buildLoadAssignment(c.Name, c.Endpoints))
		}
	}
	for _, s := range cfg.Secrets {
		sec, err := buildSecret(s)
		if err != nil {
			errs = append(errs, fmt.Errorf("secret %s: %w", s.Name, err))
			continue
		}
		res.Secrets = append(res.Secrets, sec)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("building xDS resources: %w", err)
	}
	res.sort()
	return res, nil
}

// sort orders every resource list by name, so that output does not depend
// on the order of the IR.
func (r *Resources) sort() {
	sort.SliceStable(r.Listeners, func(i, j int) bool { return r.Listeners[i].GetName() < r.Listeners[j].GetName() })
	sort.SliceStable(r.Routes, func(i, j int) bool { return r.Routes[i].GetName() < r.Routes[j].GetName() })
	sort.SliceStable(r.Clusters, func(i, j int) bool { return r.Clusters[i].GetName() < r.Clusters[j].GetName() })
	sort.SliceStable(r.Endpoints, func(i, j int) bool {
		return r.Endpoints[i].GetClusterName() < r.Endpoints[j].GetClusterName()
	})
	sort.SliceStable(r.Secrets, func(i, j int) bool { return r.Secrets[i].GetName() < r.Secrets[j].GetName() })
}

// adsConfigSource points a resource reference at the ADS stream the
// resource that names it came from.
func adsConfigSource() *corev3.ConfigSource {
	return &corev3.ConfigSource{
		ConfigSourceSpecifier: &corev3.ConfigSource_Ads{Ads: &corev3.AggregatedConfigSource{}},
		ResourceApiVersion:    corev3.ApiVersion_V3,
	}
}

// toAny packs m. Marshalling can fail on strings that are not valid UTF-8
// (proto3 requires it), which the IR does not rule out for e.g. header
// values, so the error is returned rather than assumed away.
func toAny(m proto.Message) (*anypb.Any, error) {
	a, err := anypb.New(m)
	if err != nil {
		return nil, fmt.Errorf("packing %s: %w", m.ProtoReflect().Descriptor().FullName(), err)
	}
	return a, nil
}
