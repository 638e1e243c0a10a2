package xds

import (
	"errors"
	"fmt"
	"net/netip"
	"time"

	bootstrapv3 "github.com/envoyproxy/go-control-plane/envoy/config/bootstrap/v3"
	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	upstreamhttpv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/upstreams/http/v3"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/legateproxy/legate/translators/ir"
)

// XDSClusterName is the static cluster through which Envoy reaches the
// Legate xDS server.
const XDSClusterName = "legate-xds"

// Defaults of BootstrapOptions.
const (
	DefaultNodeCluster  = "legate"
	DefaultAdminAddress = "127.0.0.1"
	DefaultAdminPort    = 9901
)

// BootstrapOptions say how an Envoy finds Legate and who it is.
type BootstrapOptions struct {
	// NodeID identifies this Envoy (e.g. its pod name); required.
	NodeID string
	// NodeCluster is the data-plane group the Envoy belongs to: the xDS
	// server gives every node of a group the same configuration.
	// Default DefaultNodeCluster.
	NodeCluster string
	// AdminAddress and AdminPort are where Envoy's admin interface
	// listens. Defaults: DefaultAdminAddress, DefaultAdminPort. The
	// default address is loopback because the admin interface can change
	// Envoy's state.
	AdminAddress string
	AdminPort    uint32
	// XDSAddress (IP address or DNS name) and XDSPort are the xDS server's
	// gRPC address; required.
	XDSAddress string
	XDSPort    uint32
	// Delta selects incremental xDS (DELTA_GRPC) instead of state of the
	// world (GRPC).
	Delta bool
	// ConnectTimeout bounds connecting to the xDS server; default 5s.
	ConnectTimeout time.Duration
}

// Bootstrap renders the Envoy bootstrap for opts as YAML: the node, the
// admin interface, ADS for listeners and clusters (routes, endpoints and
// secrets follow from those over the same stream), and the static cluster
// of the xDS server.
func Bootstrap(opts BootstrapOptions) ([]byte, error) {
	b, err := BootstrapProto(opts)
	if err != nil {
		return nil, err
	}
	out, err := MarshalYAML(b)
	if err != nil {
		return nil, fmt.Errorf("rendering bootstrap: %w", err)
	}
	return out, nil
}

// BootstrapProto is Bootstrap before rendering, validated.
func BootstrapProto(opts BootstrapOptions) (*bootstrapv3.Bootstrap, error) {
	if opts.NodeID == "" {
		return nil, errors.New("bootstrap: node id is empty")
	}
	if opts.XDSAddress == "" || opts.XDSPort == 0 || opts.XDSPort > 65535 {
		return nil, fmt.Errorf("bootstrap: xDS server address %q port %d is not valid", opts.XDSAddress, opts.XDSPort)
	}
	if opts.NodeCluster == "" {
		opts.NodeCluster = DefaultNodeCluster
	}
	if opts.AdminAddress == "" {
		opts.AdminAddress = DefaultAdminAddress
	}
	if opts.AdminPort == 0 {
		opts.AdminPort = DefaultAdminPort
	}
	if opts.ConnectTimeout <= 0 {
		opts.ConnectTimeout = defaultConnectTimeout
	}
	apiType := corev3.ApiConfigSource_GRPC
	if opts.Delta {
		apiType = corev3.ApiConfigSource_DELTA_GRPC
	}
	xdsCluster, err := xdsServerCluster(opts)
	if err != nil {
		return nil, err
	}
	b := &bootstrapv3.Bootstrap{
		Node: &corev3.Node{Id: opts.NodeID, Cluster: opts.NodeCluster},
		Admin: &bootstrapv3.Admin{
			Address: socketAddress(opts.AdminAddress, opts.AdminPort, corev3.SocketAddress_TCP),
		},
		DynamicResources: &bootstrapv3.Bootstrap_DynamicResources{
			AdsConfig: &corev3.ApiConfigSource{
				ApiType:             apiType,
				TransportApiVersion: corev3.ApiVersion_V3,
				GrpcServices: []*corev3.GrpcService{{
					TargetSpecifier: &corev3.GrpcService_EnvoyGrpc_{EnvoyGrpc: &corev3.GrpcService_EnvoyGrpc{ClusterName: XDSClusterName}},
				}},
				// The node does not change within a stream; sending it once
				// keeps every later request small.
				SetNodeOnFirstMessageOnly: true,
			},
			LdsConfig: adsConfigSource(),
			CdsConfig: adsConfigSource(),
		},
		StaticResources: &bootstrapv3.Bootstrap_StaticResources{
			Clusters: []*clusterv3.Cluster{xdsCluster},
		},
		LayeredRuntime: &bootstrapv3.LayeredRuntime{Layers: []*bootstrapv3.RuntimeLayer{{
			Name: "static",
			LayerSpecifier: &bootstrapv3.RuntimeLayer_StaticLayer{StaticLayer: &structpb.Struct{Fields: map[string]*structpb.Value{
				// Envoy refuses regexes whose RE2 program is larger than
				// 100 instructions by default, which rules out ordinary
				// patterns such as "^/[a-z]{100,200}$" that people write
				// in Mappings and HTTPRoutes. Validate enforces this limit.
				"re2.max_program_size.error_level": structpb.NewNumberValue(MaxRegexProgramSize),
			}}},
		}}},
	}
	if err := b.ValidateAll(); err != nil {
		return nil, fmt.Errorf("bootstrap: %w", err)
	}
	return b, nil
}

// xdsServerCluster reaches the xDS server over HTTP/2 (gRPC), with
// keepalive pings so that a control plane that went away silently is
// noticed and reconnected to.
func xdsServerCluster(opts BootstrapOptions) (*clusterv3.Cluster, error) {
	h2, err := toAny(&upstreamhttpv3.HttpProtocolOptions{
		UpstreamProtocolOptions: &upstreamhttpv3.HttpProtocolOptions_ExplicitHttpConfig_{
			ExplicitHttpConfig: &upstreamhttpv3.HttpProtocolOptions_ExplicitHttpConfig{
				ProtocolConfig: &upstreamhttpv3.HttpProtocolOptions_ExplicitHttpConfig_Http2ProtocolOptions{
					Http2ProtocolOptions: &corev3.Http2ProtocolOptions{
						ConnectionKeepalive: &corev3.KeepaliveSettings{
							Interval: durationpb.New(30 * time.Second),
							Timeout:  durationpb.New(5 * time.Second),
						},
					},
				},
			},
		},
	})
	if err != nil {
		return nil, err
	}
	c := &clusterv3.Cluster{
		Name:                          XDSClusterName,
		ConnectTimeout:                durationpb.New(opts.ConnectTimeout),
		LbPolicy:                      clusterv3.Cluster_ROUND_ROBIN,
		TypedExtensionProtocolOptions: map[string]*anypb.Any{httpProtocolOptionsName: h2},
		LoadAssignment: buildLoadAssignment(XDSClusterName, []ir.Endpoint{
			{Address: opts.XDSAddress, Port: opts.XDSPort, Ready: true},
		}),
	}
	if _, err := netip.ParseAddr(opts.XDSAddress); err == nil {
		c.ClusterDiscoveryType = &clusterv3.Cluster_Type{Type: clusterv3.Cluster_STATIC}
	} else {
		c.ClusterDiscoveryType = &clusterv3.Cluster_Type{Type: clusterv3.Cluster_STRICT_DNS}
		c.DnsLookupFamily = clusterv3.Cluster_V4_PREFERRED
	}
	return c, nil
}
