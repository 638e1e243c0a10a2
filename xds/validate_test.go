package xds

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"strings"
	"sync"
	"testing"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	corsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/cors/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	tcpproxyv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/tcp_proxy/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// editedRoutes are, for Resources whose routes a test edits in place
// (routeIn), their route configurations decoded: they are kept encoded,
// so an edit takes keepRouteEdits to reach them.
var editedRoutes = struct {
	sync.Mutex
	m map[*Resources][]*routev3.RouteConfiguration
}{m: map[*Resources][]*routev3.RouteConfiguration{}}

// routeIn returns the route named name, in res's route configurations
// decoded for editing: see keepRouteEdits.
func routeIn(t *testing.T, res *Resources, name string) *routev3.Route {
	t.Helper()
	editedRoutes.Lock()
	defer editedRoutes.Unlock()
	rcs := editedRoutes.m[res]
	if rcs == nil {
		rcs = decodedAll(res.Routes)
		editedRoutes.m[res] = rcs
	}
	for _, rc := range rcs {
		for _, vh := range rc.GetVirtualHosts() {
			for _, r := range vh.GetRoutes() {
				if r.GetName() == name {
					return r
				}
			}
		}
	}
	t.Fatalf("no route %q", name)
	return nil
}

// keepRouteEdits makes res's route configurations the ones routeIn gave
// routes of, as they were edited since.
func keepRouteEdits(res *Resources) {
	editedRoutes.Lock()
	defer editedRoutes.Unlock()
	for i, rc := range editedRoutes.m[res] {
		res.Routes[i] = NewRouteConfiguration(rc)
	}
	delete(editedRoutes.m, res)
}

// firstFilter is the first network filter of the first filter chain of the
// listener named name.
func firstFilter(t *testing.T, res *Resources, name string) *listenerv3.Filter {
	t.Helper()
	for _, l := range res.Listeners {
		if l.GetName() == name {
			return l.GetFilterChains()[0].GetFilters()[0]
		}
	}
	t.Fatalf("no listener %q", name)
	return nil
}

func TestValidateRejects(t *testing.T) {
	cases := []struct {
		name   string
		golden string
		mutate func(*testing.T, *Resources)
		// want are all found in one reported error.
		want []string
	}{
		{
			name:   "empty regex",
			golden: "matches",
			mutate: func(t *testing.T, r *Resources) {
				routeIn(t, r, "HTTPRoute/default/m/2/0").Match.GetSafeRegex().Regex = ""
			},
			want: []string{`RouteConfiguration "http-80"`, `route "HTTPRoute/default/m/2/0"`, "match.safe_regex: regex is empty"},
		},
		{
			name:   "bad path regex",
			golden: "matches",
			mutate: func(t *testing.T, r *Resources) {
				routeIn(t, r, "HTTPRoute/default/m/2/0").Match.GetSafeRegex().Regex = "(["
			},
			want: []string{`RouteConfiguration "http-80"`, `route "HTTPRoute/default/m/2/0"`, `regex "([" does not compile`},
		},
		{
			name:   "regex too complex for Envoy",
			golden: "matches",
			mutate: func(t *testing.T, r *Resources) {
				routeIn(t, r, "HTTPRoute/default/m/2/0").Match.GetSafeRegex().Regex = "^/[a-z]{600,900}$"
			},
			want: []string{`route "HTTPRoute/default/m/2/0"`, `regex "^/[a-z]{600,900}$" is too complex`},
		},
		{
			name:   "bad header regex",
			golden: "matches",
			mutate: func(t *testing.T, r *Resources) {
				routeIn(t, r, "HTTPRoute/default/m/3/0").Match.Headers[2].GetStringMatch().GetSafeRegex().Regex = "a{2,1}"
			},
			want: []string{`route "HTTPRoute/default/m/3/0"`, "match.headers[2].string_match.safe_regex", `regex "a{2,1}" does not compile`},
		},
		{
			name:   "bad rewrite regex",
			golden: "filters",
			mutate: func(t *testing.T, r *Resources) {
				routeIn(t, r, "HTTPRoute/default/f/1/0").GetRoute().RegexRewrite.Pattern.Regex = "(?<"
			},
			want: []string{`route "HTTPRoute/default/f/1/0"`, "route.regex_rewrite.pattern", "does not compile"},
		},
		{
			name:   "dangling route cluster",
			golden: "http-basic",
			mutate: func(t *testing.T, r *Resources) {
				routeIn(t, r, "Ingress/default/echo/0/0").GetRoute().ClusterSpecifier = &routev3.RouteAction_Cluster{Cluster: "default/gone/80"}
			},
			want: []string{`RouteConfiguration "http-8080"`, `route "Ingress/default/echo/0/0"`, `cluster "default/gone/80" does not exist`},
		},
		{
			name:   "dangling weighted cluster",
			golden: "weighted",
			mutate: func(t *testing.T, r *Resources) {
				routeIn(t, r, "HTTPRoute/default/canary/0/0").GetRoute().GetWeightedClusters().Clusters[1].Name = "default/gone/80"
			},
			want: []string{`route "HTTPRoute/default/canary/0/0"`, "route.weighted_clusters", `cluster "default/gone/80" does not exist`},
		},
		{
			name:   "dangling mirror cluster",
			golden: "filters",
			mutate: func(t *testing.T, r *Resources) {
				routeIn(t, r, "HTTPRoute/default/f/0/0").GetRoute().RequestMirrorPolicies[1].Cluster = "default/gone/80"
			},
			want: []string{`route "HTTPRoute/default/f/0/0"`, "route.request_mirror_policies[1]", `cluster "default/gone/80" does not exist`},
		},
		{
			name:   "dangling tcp proxy cluster",
			golden: "tcp",
			mutate: func(t *testing.T, r *Resources) {
				r.Clusters = r.Clusters[1:] // default/db-a/5432
				r.Endpoints = r.Endpoints[1:]
			},
			want: []string{`Listener "tcp-5432"`, "TcpProxy", `cluster "default/db-a/5432" does not exist`},
		},
		{
			// The route is an Any inside the UDP proxy's Any.
			name:   "dangling UDP cluster, two Anys deep",
			golden: "udp",
			mutate: func(t *testing.T, r *Resources) { r.Clusters = r.Clusters[:1] }, // keeps default/dns-old/53
			want: []string{`Listener "udp-5353"`, "(envoy.extensions.filters.udp.udp_proxy.v3.UdpProxyConfig).matcher.on_no_match.action.typed_config.(envoy.extensions.filters.udp.udp_proxy.v3.Route)",
				`cluster "default/dns/53" does not exist`},
		},
		{
			name:   "all-zero weighted clusters",
			golden: "weighted",
			mutate: func(t *testing.T, r *Resources) {
				for _, c := range routeIn(t, r, "HTTPRoute/default/canary/0/0").GetRoute().GetWeightedClusters().Clusters {
					c.Weight = wrapperspb.UInt32(0)
				}
			},
			want: []string{`route "HTTPRoute/default/canary/0/0"`, "every weighted cluster has weight zero"},
		},
		{
			name:   "dangling RDS name",
			golden: "http-basic",
			mutate: func(t *testing.T, r *Resources) { r.Routes = nil },
			want:   []string{`Listener "http-8080"`, "HttpConnectionManager", `RDS route configuration "http-8080" does not exist`},
		},
		{
			name:   "dangling SDS secret",
			golden: "https-sni",
			mutate: func(t *testing.T, r *Resources) { r.Secrets = r.Secrets[:1] }, // keeps default/shop-tls only
			want:   []string{`Listener "https-443"`, "DownstreamTlsContext", `SDS secret "default/wildcard-tls" does not exist`},
		},
		{
			name:   "EDS cluster without assignment",
			golden: "http-basic",
			mutate: func(t *testing.T, r *Resources) { r.Endpoints = nil },
			want:   []string{`Cluster "default/echo/80"`, `EDS cluster has no ClusterLoadAssignment "default/echo/80"`},
		},
		{
			name:   "Any with garbage bytes",
			golden: "http-basic",
			mutate: func(t *testing.T, r *Resources) {
				firstFilter(t, r, "http-8080").GetTypedConfig().Value = []byte{0x0a, 0xff, 0xff, 0xff}
			},
			want: []string{`Listener "http-8080"`, "filter_chains[0].filters[0].typed_config", "cannot unpack Any", "HttpConnectionManager"},
		},
		{
			name:   "Any with unknown type",
			golden: "http-basic",
			mutate: func(t *testing.T, r *Resources) {
				firstFilter(t, r, "http-8080").ConfigType = &listenerv3.Filter_TypedConfig{TypedConfig: &anypb.Any{
					TypeUrl: "type.googleapis.com/legate.test.NoSuchFilter",
				}}
			},
			want: []string{`Listener "http-8080"`, `cannot unpack Any of type "type.googleapis.com/legate.test.NoSuchFilter"`},
		},
		{
			name:   "HCM that fails its own rules",
			golden: "http-basic",
			mutate: func(t *testing.T, r *Resources) {
				f := firstFilter(t, r, "http-8080")
				hcm := &hcmv3.HttpConnectionManager{}
				if err := f.GetTypedConfig().UnmarshalTo(hcm); err != nil {
					t.Fatal(err)
				}
				hcm.StatPrefix = ""
				a, err := anypb.New(hcm)
				if err != nil {
					t.Fatal(err)
				}
				f.ConfigType = &listenerv3.Filter_TypedConfig{TypedConfig: a}
			},
			want: []string{`Listener "http-8080"`, "(envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager)", "StatPrefix"},
		},
		{
			name:   "Any nested in an Any that fails its rules",
			golden: "tcp",
			mutate: func(t *testing.T, r *Resources) {
				f := firstFilter(t, r, "tcp-5432")
				tp := &tcpproxyv3.TcpProxy{}
				if err := f.GetTypedConfig().UnmarshalTo(tp); err != nil {
					t.Fatal(err)
				}
				// Weights of tcp_proxy clusters must be at least 1.
				tp.GetWeightedClusters().Clusters[0].Weight = 0
				a, err := anypb.New(tp)
				if err != nil {
					t.Fatal(err)
				}
				f.ConfigType = &listenerv3.Filter_TypedConfig{TypedConfig: a}
			},
			want: []string{`Listener "tcp-5432"`, "TcpProxy", "Weight"},
		},
		{
			name:   "duplicate domains across virtual hosts",
			golden: "multi-vhost",
			mutate: func(t *testing.T, r *Resources) {
				editRoute(r, 0, func(rc *routev3.RouteConfiguration) {
					vh := rc.VirtualHosts
					vh[2].Domains = append(vh[2].Domains, "FOO.example.com")
				})
			},
			want: []string{`RouteConfiguration "http-80"`, "virtual_hosts[2]", `domain "FOO.example.com" of virtual host "wildcard" is also a domain of virtual host "foo.example.com"`},
		},
		{
			name:   "duplicate domain in one virtual host",
			golden: "multi-vhost",
			mutate: func(t *testing.T, r *Resources) {
				editRoute(r, 0, func(rc *routev3.RouteConfiguration) {
					vh := rc.VirtualHosts
					vh[1].Domains = append(vh[1].Domains, vh[1].Domains[0])
				})
			},
			want: []string{`RouteConfiguration "http-80"`, `domain "foo.example.com" appears twice in virtual host "foo.example.com"`},
		},
		{
			name:   "duplicate resource names",
			golden: "clusters",
			mutate: func(t *testing.T, r *Resources) { r.Clusters = append(r.Clusters, r.Clusters[0]) },
			want:   []string{`Cluster "default/echo/80"`, "duplicate Cluster name"},
		},
		{
			name:   "duplicate server names",
			golden: "https-sni",
			mutate: func(t *testing.T, r *Resources) {
				fcs := r.Listeners[0].FilterChains
				fcs[2].FilterChainMatch.ServerNames = append(fcs[2].FilterChainMatch.ServerNames, "shop.example.com")
			},
			want: []string{`Listener "https-443"`, "filter_chains[2]", `server name "shop.example.com" is also matched by filter_chains[1]`},
		},
		{
			name:   "route that fails its own rules",
			golden: "direct-response",
			mutate: func(t *testing.T, r *Resources) {
				routeIn(t, r, "Mapping/default/health/0").GetDirectResponse().Status = 99
			},
			want: []string{`RouteConfiguration "http-80"`, `route "Mapping/default/health/0"`, "DirectResponseAction.Status"},
		},
		{
			name:   "secret that is not a certificate",
			golden: "https-sni",
			mutate: func(t *testing.T, r *Resources) {
				r.Secrets[0].GetTlsCertificate().CertificateChain.Specifier = &corev3.DataSource_InlineString{InlineString: "not a certificate"}
			},
			want: []string{`Secret "default/shop-tls"`, "tls_certificate", "certificate and private key do not load"},
		},
		{
			name:   "certificate with another certificate's key",
			golden: "https-sni",
			mutate: func(t *testing.T, r *Resources) {
				key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
				if err != nil {
					t.Fatal(err)
				}
				der, err := x509.MarshalPKCS8PrivateKey(key)
				if err != nil {
					t.Fatal(err)
				}
				r.Secrets[0].GetTlsCertificate().PrivateKey.Specifier = &corev3.DataSource_InlineBytes{
					InlineBytes: pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}),
				}
			},
			want: []string{`Secret "default/shop-tls"`, "private key does not match public key"},
		},
		{
			name:   "CA bundle without a certificate",
			golden: "https-sni",
			mutate: func(t *testing.T, r *Resources) {
				r.Secrets[1].GetValidationContext().TrustedCa.Specifier = &corev3.DataSource_InlineString{InlineString: "junk"}
			},
			want: []string{`Secret "default/upstream-ca"`, "trusted CA holds no PEM certificate"},
		},
		{
			name:   "per-route CORS on a connection manager without the CORS filter",
			golden: "route-policies",
			mutate: func(t *testing.T, r *Resources) {
				a := routeIn(t, r, "HTTPRoute/default/a/0/0")
				routeIn(t, r, "HTTPRoute/default/b/0/0").TypedPerFilterConfig = a.TypedPerFilterConfig
			},
			want: []string{`RouteConfiguration "https-443/b.example.com"`, `route "HTTPRoute/default/b/0/0"`, `HTTP filter "envoy.filters.http.cors"`},
		},
		{
			name:   "CORS origin regex that does not compile",
			golden: "route-policies",
			mutate: func(t *testing.T, r *Resources) {
				rt := routeIn(t, r, "HTTPRoute/default/p/0/0")
				p := &corsv3.CorsPolicy{}
				if err := rt.TypedPerFilterConfig[corsFilterName].UnmarshalTo(p); err != nil {
					t.Fatal(err)
				}
				p.AllowOriginStringMatch[1].GetSafeRegex().Regex = "(["
				rt.TypedPerFilterConfig[corsFilterName], _ = anypb.New(p)
			},
			want: []string{`route "HTTPRoute/default/p/0/0"`, "allow_origin_string_match[1].safe_regex", "does not compile"},
		},
		{
			name:   "retriable status codes that retry_on ignores",
			golden: "route-policies",
			mutate: func(t *testing.T, r *Resources) {
				routeIn(t, r, "HTTPRoute/default/p/4/0").GetRoute().RetryPolicy.RetryOn = "connect-failure,reset"
			},
			want: []string{`route "HTTPRoute/default/p/4/0"`, "retry_on lacks retriable-status-codes"},
		},
		{
			name:   "upstream CA naming a certificate secret",
			golden: "route-policies",
			mutate: func(t *testing.T, r *Resources) {
				for i, c := range r.Clusters {
					if c.GetName() != "default/ca-only/443" {
						continue
					}
					editCluster(r, i, func(c *clusterv3.Cluster) {
						ctx := &tlsv3.UpstreamTlsContext{}
						if err := c.GetTransportSocket().GetTypedConfig().UnmarshalTo(ctx); err != nil {
							t.Fatal(err)
						}
						ctx.CommonTlsContext.GetValidationContextSdsSecretConfig().Name = "default/tls"
						a, _ := anypb.New(ctx)
						c.TransportSocket.ConfigType = &corev3.TransportSocket_TypedConfig{TypedConfig: a}
					})
				}
			},
			want: []string{`Cluster "default/ca-only/443"`, `SDS secret "default/tls" is a certificate, a validation context is needed`},
		},
		{
			name:   "upstream CA secret that does not exist",
			golden: "route-policies",
			mutate: func(t *testing.T, r *Resources) {
				r.Secrets = r.Secrets[1:]
			},
			want: []string{`Cluster "default/ca-only/443"`, `SDS secret "default/ca" does not exist`},
		},
		{
			name:   "resource that fails its own rules",
			golden: "clusters",
			mutate: func(t *testing.T, r *Resources) {
				editCluster(r, 0, func(c *clusterv3.Cluster) { c.ConnectTimeout.Seconds = -1 })
			},
			want: []string{`Cluster "default/echo/80"`, "ConnectTimeout"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res := buildCase(t, tc.golden)
			tc.mutate(t, res)
			keepRouteEdits(res)
			err := Validate(res)
			if err == nil {
				t.Fatal("Validate accepted broken resources")
			}
			if !mentions(err, tc.want) {
				t.Fatalf("no reported error mentions all of %q; got:\n%v", tc.want, err)
			}
			if res.Versions() != nil {
				t.Error("rejected resources got versions")
			}
			// A Validator that saw the intact resources skips the parts
			// that did not change: it must report the same, and keep
			// reporting it (a broken part is never remembered as good).
			var val Validator
			if err := val.Validate(buildCase(t, tc.golden)); err != nil {
				t.Fatalf("intact resources: %v", err)
			}
			for range 2 {
				warm := val.Validate(res)
				if warm == nil || warm.Error() != err.Error() {
					t.Fatalf("a warm Validator reported\n%v\nwhere Validate reported\n%v", warm, err)
				}
			}
		})
	}
}

// mentions says whether one line of err contains every string of want.
func mentions(err error, want []string) bool {
	for _, line := range strings.Split(err.Error(), "\n") {
		if containsAll(line, want) {
			return true
		}
	}
	return false
}

func containsAll(s string, subs []string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}

// TestValidateReportsEverything breaks two unrelated resources and expects
// both problems in one error.
func TestValidateReportsEverything(t *testing.T) {
	res := buildCase(t, "matches")
	routeIn(t, res, "HTTPRoute/default/m/2/0").Match.GetSafeRegex().Regex = "(["
	res.Endpoints = nil
	keepRouteEdits(res)
	err := Validate(res)
	if err == nil {
		t.Fatal("Validate accepted broken resources")
	}
	for _, want := range []string{`regex "([" does not compile`, `EDS cluster has no ClusterLoadAssignment "default/svc/80"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not mention %q:\n%v", want, err)
		}
	}
}

func TestValidateEmpty(t *testing.T) {
	if err := Validate(nil); err != nil {
		t.Errorf("Validate(nil) = %v", err)
	}
	if err := Validate(&Resources{}); err != nil {
		t.Errorf("Validate(empty) = %v", err)
	}
}
