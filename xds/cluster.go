package xds

import (
	"fmt"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	upstreamhttpv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/upstreams/http/v3"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/legateproxy/legate/translators/ir"
)

// defaultConnectTimeout bounds connecting to an upstream when the IR does
// not say: long enough for a cross-zone handshake, short enough that a dead
// endpoint is given up on before a client does.
const defaultConnectTimeout = 5 * time.Second

func buildCluster(c *ir.Cluster) (*clusterv3.Cluster, error) {
	timeout := c.ConnectTimeout
	if timeout <= 0 {
		timeout = defaultConnectTimeout
	}
	out := &clusterv3.Cluster{
		Name:           c.Name,
		ConnectTimeout: durationpb.New(timeout),
		LbPolicy:       clusterv3.Cluster_ROUND_ROBIN,
	}
	switch c.Kind {
	case ir.ClusterEDS:
		out.ClusterDiscoveryType = &clusterv3.Cluster_Type{Type: clusterv3.Cluster_EDS}
		// The ClusterLoadAssignment has the cluster's name (service_name
		// left empty), so that endpoint updates reach it on their own.
		out.EdsClusterConfig = &clusterv3.Cluster_EdsClusterConfig{EdsConfig: adsConfigSource()}
	case ir.ClusterStatic:
		out.ClusterDiscoveryType = &clusterv3.Cluster_Type{Type: clusterv3.Cluster_STATIC}
		out.LoadAssignment = buildLoadAssignment(c.Name, c.Endpoints)
	case ir.ClusterDNS:
		out.ClusterDiscoveryType = &clusterv3.Cluster_Type{Type: clusterv3.Cluster_STRICT_DNS}
		// Prefer IPv4 but fall back to IPv6: most clusters and external
		// names have IPv4, and an IPv6-only name should still work.
		out.DnsLookupFamily = clusterv3.Cluster_V4_PREFERRED
		out.LoadAssignment = buildLoadAssignment(c.Name, []ir.Endpoint{{Address: c.DNSName, Port: c.DNSPort, Ready: true}})
	default:
		return nil, fmt.Errorf("unknown cluster kind %q", c.Kind)
	}
	opts, err := httpProtocolOptions(c)
	if err != nil {
		return nil, err
	}
	if opts != nil {
		out.TypedExtensionProtocolOptions = map[string]*anypb.Any{httpProtocolOptionsName: opts}
	}
	if err := applyClusterPolicies(out, c); err != nil {
		return nil, err
	}
	if c.TLS != nil {
		ts, err := upstreamTLS(c.TLS)
		if err != nil {
			return nil, fmt.Errorf("upstream TLS: %w", err)
		}
		out.TransportSocket = ts
	}
	return out, nil
}

// httpProtocolOptions returns the cluster's upstream HTTP options (HTTP/2,
// idle timeout), or nil when Envoy's defaults serve.
func httpProtocolOptions(c *ir.Cluster) (*anypb.Any, error) {
	if (c.Protocol == "" || c.Protocol == ir.UpstreamHTTP1) && c.IdleTimeout == 0 {
		return nil, nil
	}
	explicit := &upstreamhttpv3.HttpProtocolOptions_ExplicitHttpConfig{}
	switch c.Protocol {
	case "", ir.UpstreamHTTP1:
		explicit.ProtocolConfig = &upstreamhttpv3.HttpProtocolOptions_ExplicitHttpConfig_HttpProtocolOptions{
			HttpProtocolOptions: &corev3.Http1ProtocolOptions{},
		}
	case ir.UpstreamHTTP2:
		explicit.ProtocolConfig = &upstreamhttpv3.HttpProtocolOptions_ExplicitHttpConfig_Http2ProtocolOptions{
			Http2ProtocolOptions: &corev3.Http2ProtocolOptions{},
		}
	default:
		return nil, fmt.Errorf("unknown upstream protocol %q", c.Protocol)
	}
	opts := &upstreamhttpv3.HttpProtocolOptions{
		UpstreamProtocolOptions: &upstreamhttpv3.HttpProtocolOptions_ExplicitHttpConfig_{ExplicitHttpConfig: explicit},
	}
	switch {
	case c.IdleTimeout > 0:
		opts.CommonHttpProtocolOptions = &corev3.HttpProtocolOptions{IdleTimeout: durationpb.New(c.IdleTimeout)}
	case c.IdleTimeout < 0:
		// Envoy reads a zero idle timeout as "never".
		opts.CommonHttpProtocolOptions = &corev3.HttpProtocolOptions{IdleTimeout: durationpb.New(0)}
	}
	return toAny(opts)
}
