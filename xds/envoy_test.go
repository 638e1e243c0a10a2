package xds

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bootstrapv3 "github.com/envoyproxy/go-control-plane/envoy/config/bootstrap/v3"
	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/legateproxy/legate/internal/testenv"
)

// envoyBinary finds Envoy (see testenv.Envoy).
func envoyBinary(t *testing.T) string { return testenv.Envoy(t) }

// TestEnvoyAcceptsGolden runs `envoy --mode validate` on every golden
// case: Envoy itself parses and instantiates the listeners (with their
// connection managers and TLS contexts), clusters and secrets we build.
//
// To let Envoy check more than it could over xDS in validate mode, the
// bootstrap is made self-contained: each connection manager gets its
// RouteConfiguration inline instead of over RDS, TLS contexts name the
// secrets statically instead of over SDS (so Envoy loads the certificates
// and keys), and every ClusterLoadAssignment is also given to a static
// cluster of its own. EDS clusters themselves stay as built, fed by an ADS
// stream to an address nothing listens on.
func TestEnvoyAcceptsGolden(t *testing.T) {
	envoy := envoyBinary(t)
	dir := t.TempDir()
	for _, name := range goldenCases(t) {
		t.Run(name, func(t *testing.T) {
			res := buildCase(t, name)
			b, err := validationBootstrap(res)
			if err != nil {
				t.Fatal(err)
			}
			out, err := MarshalYAML(b)
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

func envoyValidate(t *testing.T, envoy, path string) {
	t.Helper()
	if out, err := runEnvoyValidate(envoy, path); err != nil {
		t.Fatalf("envoy rejected %s: %v\n%s", filepath.Base(path), err, out)
	}
}

func runEnvoyValidate(envoy, path string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	return exec.CommandContext(ctx, envoy, "--mode", "validate", "-c", path, "--log-level", "warn").CombinedOutput()
}

// TestEnvoyRejectsBrokenConfig shows that the acceptance harness can fail:
// the same bootstrap with one of the things Validate catches (a regex that
// does not compile, duplicate domains, a certificate that is not PEM) makes
// Envoy refuse it.
func TestEnvoyRejectsBrokenConfig(t *testing.T) {
	envoy := envoyBinary(t)
	dir := t.TempDir()
	breakages := map[string]struct {
		golden string
		mutate func(*Resources)
		want   string
	}{
		"bad regex": {"matches", func(r *Resources) {
			editRoute(r, 0, func(rc *routev3.RouteConfiguration) {
				rc.VirtualHosts[0].Routes[2].Match.GetSafeRegex().Regex = "(["
			})
		}, "missing ]"},
		"duplicate domain": {"multi-vhost", func(r *Resources) {
			editRoute(r, 0, func(rc *routev3.RouteConfiguration) {
				vh := rc.VirtualHosts
				vh[1].Domains = append(vh[1].Domains, vh[2].Domains[0])
			})
		}, "Only unique values for domains are permitted"},
		"bad certificate": {"https-sni", func(r *Resources) {
			r.Secrets[0].GetTlsCertificate().CertificateChain.Specifier = &corev3.DataSource_InlineBytes{InlineBytes: []byte("not a certificate")}
		}, "Failed to load certificate chain"},
	}
	for name, b := range breakages {
		t.Run(name, func(t *testing.T) {
			res := buildCase(t, b.golden)
			b.mutate(res)
			bs, err := validationBootstrap(res)
			if err != nil {
				t.Fatal(err)
			}
			data, err := MarshalYAML(bs)
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(dir, strings.ReplaceAll(name, " ", "-")+".yaml")
			if err := os.WriteFile(path, data, 0o600); err != nil {
				t.Fatal(err)
			}
			out, err := runEnvoyValidate(envoy, path)
			if err == nil {
				t.Fatalf("envoy accepted a broken configuration:\n%s", out)
			}
			if !strings.Contains(string(out), b.want) {
				t.Fatalf("envoy failed, but not with %q:\n%s", b.want, out)
			}
		})
	}
}

// validationBootstrap puts res into a bootstrap's static resources, made
// self-contained as TestEnvoyAcceptsGolden describes.
func validationBootstrap(res *Resources) (*bootstrapv3.Bootstrap, error) {
	b, err := BootstrapProto(BootstrapOptions{NodeID: "validate", XDSAddress: "127.0.0.1", XDSPort: 1})
	if err != nil {
		return nil, err
	}
	// Validate mode needs no LDS or CDS: the listeners and clusters are
	// static. ADS stays for the EDS clusters.
	b.DynamicResources.LdsConfig = nil
	b.DynamicResources.CdsConfig = nil
	routes := map[string]*routev3.RouteConfiguration{}
	for _, r := range decodedAll(res.Routes) {
		routes[r.GetName()] = r
	}
	for _, l := range res.Listeners {
		l = proto.Clone(l).(*listenerv3.Listener)
		for _, fc := range l.GetFilterChains() {
			for _, f := range fc.GetFilters() {
				if err := inlineRoutes(f, routes); err != nil {
					return nil, err
				}
			}
			if err := staticSecrets(fc); err != nil {
				return nil, err
			}
		}
		b.StaticResources.Listeners = append(b.StaticResources.Listeners, l)
	}
	for _, c := range decodedAll(res.Clusters) {
		if err := staticUpstreamSecrets(c); err != nil {
			return nil, err
		}
		b.StaticResources.Clusters = append(b.StaticResources.Clusters, c)
	}
	for _, cla := range decodedAll(res.Endpoints) {
		b.StaticResources.Clusters = append(b.StaticResources.Clusters, &clusterv3.Cluster{
			Name:                 "eds-check/" + cla.GetClusterName(),
			ClusterDiscoveryType: &clusterv3.Cluster_Type{Type: clusterv3.Cluster_STATIC},
			LoadAssignment:       cla,
		})
	}
	b.StaticResources.Secrets = res.Secrets
	return b, nil
}

func inlineRoutes(f *listenerv3.Filter, routes map[string]*routev3.RouteConfiguration) error {
	a := f.GetTypedConfig()
	if !a.MessageIs(&hcmv3.HttpConnectionManager{}) {
		return nil
	}
	hcm := &hcmv3.HttpConnectionManager{}
	if err := a.UnmarshalTo(hcm); err != nil {
		return err
	}
	if rds := hcm.GetRds(); rds != nil {
		hcm.RouteSpecifier = &hcmv3.HttpConnectionManager_RouteConfig{RouteConfig: routes[rds.GetRouteConfigName()]}
	}
	packed, err := anypb.New(hcm)
	if err != nil {
		return err
	}
	f.ConfigType = &listenerv3.Filter_TypedConfig{TypedConfig: packed}
	return nil
}

func staticSecrets(fc *listenerv3.FilterChain) error {
	a := fc.GetTransportSocket().GetTypedConfig()
	if a == nil || !a.MessageIs(&tlsv3.DownstreamTlsContext{}) {
		return nil
	}
	ctx := &tlsv3.DownstreamTlsContext{}
	if err := a.UnmarshalTo(ctx); err != nil {
		return err
	}
	for _, s := range ctx.GetCommonTlsContext().GetTlsCertificateSdsSecretConfigs() {
		s.SdsConfig = nil
	}
	packed, err := anypb.New(ctx)
	if err != nil {
		return err
	}
	fc.TransportSocket.ConfigType = &corev3.TransportSocket_TypedConfig{TypedConfig: packed}
	return nil
}

// staticUpstreamSecrets makes a cluster's upstream TLS context name its
// secrets statically (client certificate, CA), as staticSecrets does for
// listeners, so that Envoy loads them in validate mode.
func staticUpstreamSecrets(c *clusterv3.Cluster) error {
	a := c.GetTransportSocket().GetTypedConfig()
	if a == nil || !a.MessageIs(&tlsv3.UpstreamTlsContext{}) {
		return nil
	}
	ctx := &tlsv3.UpstreamTlsContext{}
	if err := a.UnmarshalTo(ctx); err != nil {
		return err
	}
	common := ctx.GetCommonTlsContext()
	for _, s := range common.GetTlsCertificateSdsSecretConfigs() {
		s.SdsConfig = nil
	}
	if s := common.GetValidationContextSdsSecretConfig(); s != nil {
		s.SdsConfig = nil
	}
	if s := common.GetCombinedValidationContext().GetValidationContextSdsSecretConfig(); s != nil {
		s.SdsConfig = nil
	}
	packed, err := anypb.New(ctx)
	if err != nil {
		return err
	}
	c.TransportSocket.ConfigType = &corev3.TransportSocket_TypedConfig{TypedConfig: packed}
	return nil
}

// TestEnvoyNeedsRaisedRegexLimit shows why the bootstrap raises Envoy's
// regex program size limit: the "matches" case has a header regex that
// Envoy accepts with Legate's bootstrap and refuses with Envoy's default.
func TestEnvoyNeedsRaisedRegexLimit(t *testing.T) {
	envoy := envoyBinary(t)
	b, err := validationBootstrap(buildCase(t, "matches"))
	if err != nil {
		t.Fatal(err)
	}
	b.LayeredRuntime = nil
	data, err := MarshalYAML(b)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "default-limit.yaml")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := runEnvoyValidate(envoy, path)
	if err == nil || !strings.Contains(string(out), "max program size of 100") {
		t.Fatalf("envoy with its default regex limit: err %v, output:\n%s", err, out)
	}
}
