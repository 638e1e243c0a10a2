package xds

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bootstrapv3 "github.com/envoyproxy/go-control-plane/envoy/config/bootstrap/v3"
	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	upstreamhttpv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/upstreams/http/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"sigs.k8s.io/yaml"
)

// parseBootstrap reads Bootstrap's YAML back, as Envoy would.
func parseBootstrap(t *testing.T, out []byte) *bootstrapv3.Bootstrap {
	t.Helper()
	j, err := yaml.YAMLToJSON(out)
	if err != nil {
		t.Fatal(err)
	}
	b := &bootstrapv3.Bootstrap{}
	if err := protojson.Unmarshal(j, b); err != nil {
		t.Fatalf("bootstrap YAML does not parse: %v\n%s", err, out)
	}
	return b
}

func TestBootstrapDefaults(t *testing.T) {
	out, err := Bootstrap(BootstrapOptions{NodeID: "pod-1", XDSAddress: "127.0.0.1", XDSPort: 18000})
	if err != nil {
		t.Fatal(err)
	}
	b := parseBootstrap(t, out)
	if b.GetNode().GetId() != "pod-1" || b.GetNode().GetCluster() != "legate" {
		t.Errorf("node = %v", b.GetNode())
	}
	admin := b.GetAdmin().GetAddress().GetSocketAddress()
	if admin.GetAddress() != "127.0.0.1" || admin.GetPortValue() != 9901 {
		t.Errorf("admin address = %v", admin)
	}
	ads := b.GetDynamicResources().GetAdsConfig()
	if ads.GetApiType() != corev3.ApiConfigSource_GRPC || ads.GetTransportApiVersion() != corev3.ApiVersion_V3 || !ads.GetSetNodeOnFirstMessageOnly() {
		t.Errorf("ads_config = %v", ads)
	}
	if got := ads.GetGrpcServices()[0].GetEnvoyGrpc().GetClusterName(); got != XDSClusterName {
		t.Errorf("ads cluster = %q", got)
	}
	if b.GetDynamicResources().GetLdsConfig().GetAds() == nil || b.GetDynamicResources().GetCdsConfig().GetAds() == nil {
		t.Errorf("lds/cds not over ADS: %v", b.GetDynamicResources())
	}
	clusters := b.GetStaticResources().GetClusters()
	if len(clusters) != 1 || clusters[0].GetName() != XDSClusterName {
		t.Fatalf("static clusters = %v", clusters)
	}
	c := clusters[0]
	if c.GetType() != clusterv3.Cluster_STATIC || c.GetConnectTimeout().AsDuration() != 5*time.Second {
		t.Errorf("xds cluster type %v timeout %v", c.GetType(), c.GetConnectTimeout())
	}
	sa := c.GetLoadAssignment().GetEndpoints()[0].GetLbEndpoints()[0].GetEndpoint().GetAddress().GetSocketAddress()
	if sa.GetAddress() != "127.0.0.1" || sa.GetPortValue() != 18000 {
		t.Errorf("xds endpoint = %v", sa)
	}
	opts := &upstreamhttpv3.HttpProtocolOptions{}
	if err := c.GetTypedExtensionProtocolOptions()[httpProtocolOptionsName].UnmarshalTo(opts); err != nil {
		t.Fatalf("protocol options: %v", err)
	}
	if opts.GetExplicitHttpConfig().GetHttp2ProtocolOptions() == nil {
		t.Errorf("xds cluster does not speak HTTP/2: %v", opts)
	}
}

func TestBootstrapOptions(t *testing.T) {
	out, err := Bootstrap(BootstrapOptions{
		NodeID: "pod-2", NodeCluster: "edge", AdminAddress: "0.0.0.0", AdminPort: 19000,
		XDSAddress: "legate.legate-system.svc", XDSPort: 18000, Delta: true, ConnectTimeout: time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	b := parseBootstrap(t, out)
	if b.GetNode().GetCluster() != "edge" {
		t.Errorf("node cluster = %q", b.GetNode().GetCluster())
	}
	if got := b.GetAdmin().GetAddress().GetSocketAddress().GetPortValue(); got != 19000 {
		t.Errorf("admin port = %d", got)
	}
	if got := b.GetDynamicResources().GetAdsConfig().GetApiType(); got != corev3.ApiConfigSource_DELTA_GRPC {
		t.Errorf("api type = %v", got)
	}
	c := b.GetStaticResources().GetClusters()[0]
	if c.GetType() != clusterv3.Cluster_STRICT_DNS || c.GetConnectTimeout().AsDuration() != time.Second {
		t.Errorf("xds cluster type %v timeout %v", c.GetType(), c.GetConnectTimeout())
	}
	if !strings.Contains(string(out), "set_node_on_first_message_only: true") {
		t.Errorf("YAML does not use Envoy's field names:\n%s", out)
	}
}

func TestBootstrapRequiresNodeAndServer(t *testing.T) {
	if _, err := Bootstrap(BootstrapOptions{XDSAddress: "127.0.0.1", XDSPort: 1}); err == nil || !strings.Contains(err.Error(), "node id") {
		t.Errorf("missing node id: err = %v", err)
	}
	if _, err := Bootstrap(BootstrapOptions{NodeID: "n"}); err == nil || !strings.Contains(err.Error(), "xDS server") {
		t.Errorf("missing server: err = %v", err)
	}
}

// TestEnvoyAcceptsBootstrap has Envoy validate both bootstrap flavours.
func TestEnvoyAcceptsBootstrap(t *testing.T) {
	envoy := envoyBinary(t)
	dir := t.TempDir()
	for name, opts := range map[string]BootstrapOptions{
		"sotw-ip":   {NodeID: "n1", XDSAddress: "127.0.0.1", XDSPort: 18000},
		"delta-dns": {NodeID: "n2", XDSAddress: "localhost", XDSPort: 18000, Delta: true},
	} {
		t.Run(name, func(t *testing.T) {
			out, err := Bootstrap(opts)
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(dir, name+".yaml")
			if err := os.WriteFile(path, out, 0o600); err != nil {
				t.Fatal(err)
			}
			envoyValidate(t, envoy, path)
		})
	}
}
