package xds

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	corsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/cors/v3"
	statefulsessionv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/stateful_session/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	cookiev3 "github.com/envoyproxy/go-control-plane/envoy/extensions/http/stateful_session/cookie/v3"
	headersessionv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/http/stateful_session/header/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	httpv3 "github.com/envoyproxy/go-control-plane/envoy/type/http/v3"
	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/legateproxy/legate/translators/ir"
)

// HTTP filters that routes configure per route. A connection manager gets
// one of these only when a route it serves uses it, so that listeners
// without such routes keep the plain router chain.
const (
	corsFilterName            = "envoy.filters.http.cors"
	statefulSessionFilterName = "envoy.filters.http.stateful_session"
	cookieSessionStateName    = "envoy.http.stateful_session.cookie"
	headerSessionStateName    = "envoy.http.stateful_session.header"
)

// httpFilterNeeds says which optional HTTP filters the routes of a
// connection manager use.
type httpFilterNeeds struct {
	cors, session bool
}

func needsOf(vhosts []*ir.VirtualHost) httpFilterNeeds {
	var n httpFilterNeeds
	for _, vh := range vhosts {
		for _, r := range vh.Routes {
			n.cors = n.cors || r.Filters.CORS != nil
			n.session = n.session || (r.Filters.SessionPersistence != nil && r.Forward != nil)
		}
	}
	return n
}

// httpFilters is the HTTP filter chain of a connection manager: the
// optional filters its routes need, then the router. The optional filters
// are configured empty here and per route (typed_per_filter_config), so a
// route that does not name them is not affected: the CORS filter does
// nothing without a policy, the stateful session filter nothing without a
// session state.
func httpFilters(n httpFilterNeeds) ([]*hcmv3.HttpFilter, error) {
	var out []*hcmv3.HttpFilter
	add := func(name string, cfg *anypb.Any) {
		out = append(out, &hcmv3.HttpFilter{Name: name, ConfigType: &hcmv3.HttpFilter_TypedConfig{TypedConfig: cfg}})
	}
	if n.cors {
		a, err := toAny(&corsv3.Cors{})
		if err != nil {
			return nil, err
		}
		add(corsFilterName, a)
	}
	if n.session {
		a, err := toAny(&statefulsessionv3.StatefulSession{})
		if err != nil {
			return nil, err
		}
		add(statefulSessionFilterName, a)
	}
	return out, nil
}

// corsPolicy is the per-route CORS policy of c. Preflights from origins
// that are not allowed are answered by Envoy (200, no CORS headers)
// rather than forwarded, so a backend never sees a preflight it was not
// meant to answer.
func corsPolicy(c *ir.CORS) (*corsv3.CorsPolicy, error) {
	p := &corsv3.CorsPolicy{
		AllowMethods:                 strings.Join(c.AllowMethods, ", "),
		AllowHeaders:                 strings.Join(c.AllowHeaders, ", "),
		ExposeHeaders:                strings.Join(c.ExposeHeaders, ", "),
		ForwardNotMatchingPreflights: wrapperspb.Bool(false),
	}
	if c.AllowCredentials {
		p.AllowCredentials = wrapperspb.Bool(true)
	}
	if c.MaxAge > 0 {
		p.MaxAge = strconv.FormatInt(int64(c.MaxAge.Seconds()), 10)
	}
	for _, o := range c.AllowOrigins {
		m, err := OriginMatcher(o)
		if err != nil {
			return nil, err
		}
		p.AllowOriginStringMatch = append(p.AllowOriginStringMatch, m)
	}
	return p, nil
}

// OriginMatcher is the Envoy matcher of one IR CORS origin. "*" is an exact
// "*": Envoy's CORS filter treats a matcher that matches "*" as allowing
// every origin (and still echoes the request's Origin, never "*"). Any
// other origin becomes a case-insensitive regex: each "*" of the host
// matches any run of host characters, dots included; a missing port also
// accepts the scheme's default port written out, and a default port
// written out also accepts none.
func OriginMatcher(origin string) (*matcherv3.StringMatcher, error) {
	if origin == "*" {
		return &matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_Exact{Exact: "*"}}, nil
	}
	if err := ir.ValidateCORSOrigin(origin); err != nil {
		return nil, err
	}
	scheme, rest, _ := strings.Cut(origin, "://")
	scheme = strings.ToLower(scheme)
	host, port, hasPort := strings.Cut(rest, ":")
	parts := strings.Split(host, "*")
	for i, p := range parts {
		parts[i] = regexp.QuoteMeta(p)
	}
	re := "(?i)^" + regexp.QuoteMeta(scheme) + "://" + strings.Join(parts, "[-a-z0-9.]+")
	def := map[string]string{"http": "80", "https": "443"}[scheme]
	switch {
	case !hasPort && def != "":
		re += "(:" + def + ")?"
	case hasPort && port == def:
		re += "(:" + port + ")?"
	case hasPort:
		re += ":" + port
	}
	re += "$"
	return &matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_SafeRegex{SafeRegex: &matcherv3.RegexMatcher{Regex: re}}}, nil
}

// sessionPerRoute is the per-route stateful session configuration of sp:
// a cookie Envoy sets (name, path, TTL) or a header, holding the address
// of the endpoint that served the session's first request.
func sessionPerRoute(sp *ir.SessionPersistence) (*statefulsessionv3.StatefulSessionPerRoute, error) {
	var state *corev3.TypedExtensionConfig
	switch sp.Type {
	case ir.SessionCookie:
		cookie := &httpv3.Cookie{Name: sp.Name, Path: sp.Path}
		if cookie.Path == "" {
			cookie.Path = "/"
		}
		if sp.TTL > 0 {
			cookie.Ttl = durationpb.New(sp.TTL)
		}
		a, err := toAny(&cookiev3.CookieBasedSessionState{Cookie: cookie})
		if err != nil {
			return nil, err
		}
		state = &corev3.TypedExtensionConfig{Name: cookieSessionStateName, TypedConfig: a}
	case ir.SessionHeader:
		a, err := toAny(&headersessionv3.HeaderBasedSessionState{Name: sp.Name})
		if err != nil {
			return nil, err
		}
		state = &corev3.TypedExtensionConfig{Name: headerSessionStateName, TypedConfig: a}
	default:
		return nil, fmt.Errorf("unknown session persistence type %q", sp.Type)
	}
	return &statefulsessionv3.StatefulSessionPerRoute{Override: &statefulsessionv3.StatefulSessionPerRoute_StatefulSession{
		StatefulSession: &statefulsessionv3.StatefulSession{SessionState: state},
	}}, nil
}

// perFilterConfig is the typed_per_filter_config of a route: its CORS
// policy and session persistence, when it has them.
func perFilterConfig(r *ir.Route) (map[string]*anypb.Any, error) {
	out := map[string]*anypb.Any{}
	if c := r.Filters.CORS; c != nil {
		p, err := corsPolicy(c)
		if err != nil {
			return nil, fmt.Errorf("CORS: %w", err)
		}
		if out[corsFilterName], err = toAny(p); err != nil {
			return nil, err
		}
	}
	if sp := r.Filters.SessionPersistence; sp != nil && r.Forward != nil {
		p, err := sessionPerRoute(sp)
		if err != nil {
			return nil, fmt.Errorf("session persistence: %w", err)
		}
		if out[statefulSessionFilterName], err = toAny(p); err != nil {
			return nil, err
		}
	}
	if len(out) == 0 {
		return nil, nil
	}
	return out, nil
}

// retryPolicy is the Envoy retry policy of rt. Status codes to retry add
// "retriable-status-codes" to the conditions, without which Envoy ignores
// them.
func retryPolicy(rt *ir.Retry) *routev3.RetryPolicy {
	on := append([]string(nil), rt.On...)
	if len(on) == 0 && len(rt.StatusCodes) == 0 {
		on = []string{defaultRetryOn}
	}
	if len(rt.StatusCodes) > 0 && !containsString(on, "retriable-status-codes") {
		on = append(on, "retriable-status-codes")
	}
	rp := &routev3.RetryPolicy{RetryOn: strings.Join(on, ","), RetriableStatusCodes: append([]uint32(nil), rt.StatusCodes...)}
	if rt.NumRetries > 0 {
		rp.NumRetries = wrapperspb.UInt32(rt.NumRetries)
	}
	if rt.PerTry > 0 {
		rp.PerTryTimeout = durationpb.New(rt.PerTry)
	}
	if rt.Backoff > 0 {
		// Envoy's default cap is ten times the base; say it, so that the
		// configuration reads the same in a dump.
		rp.RetryBackOff = &routev3.RetryPolicy_RetryBackOff{
			BaseInterval: durationpb.New(rt.Backoff),
			MaxInterval:  durationpb.New(10 * rt.Backoff),
		}
	}
	return rp
}

func containsString(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// SystemCABundle is the file of the system's trusted CAs on the machine
// Envoy runs on, for upstream TLS that trusts the well-known CAs and checks
// subject alternative names. The default is where Debian, Ubuntu, Alpine
// and the Envoy images keep it; a deployment on another layout changes it
// before building resources.
var SystemCABundle = "/etc/ssl/certs/ca-certificates.crt"

// upstreamTLS is the transport socket that makes a cluster's connections
// TLS. Certificates are verified against the CA secret (over SDS) or the
// system trust store, and, when subject alternative names are given,
// must carry one of them; with neither CA, nothing is verified.
func upstreamTLS(t *ir.UpstreamTLS) (*corev3.TransportSocket, error) {
	common := &tlsv3.CommonTlsContext{AlpnProtocols: append([]string(nil), t.ALPN...)}
	if t.MinVersion != "" || t.MaxVersion != "" {
		minV, err := tlsVersion(t.MinVersion)
		if err != nil {
			return nil, err
		}
		maxV, err := tlsVersion(t.MaxVersion)
		if err != nil {
			return nil, err
		}
		common.TlsParams = &tlsv3.TlsParameters{TlsMinimumProtocolVersion: minV, TlsMaximumProtocolVersion: maxV}
	}
	if t.ClientCertSecret != "" {
		common.TlsCertificateSdsSecretConfigs = []*tlsv3.SdsSecretConfig{{Name: t.ClientCertSecret, SdsConfig: adsConfigSource()}}
	}
	sans := subjectAltNameMatchers(t.SubjectAltNames)
	switch {
	case t.CASecret != "" && len(sans) > 0:
		common.ValidationContextType = &tlsv3.CommonTlsContext_CombinedValidationContext{
			CombinedValidationContext: &tlsv3.CommonTlsContext_CombinedCertificateValidationContext{
				DefaultValidationContext:         &tlsv3.CertificateValidationContext{MatchTypedSubjectAltNames: sans},
				ValidationContextSdsSecretConfig: &tlsv3.SdsSecretConfig{Name: t.CASecret, SdsConfig: adsConfigSource()},
			},
		}
	case t.CASecret != "":
		common.ValidationContextType = &tlsv3.CommonTlsContext_ValidationContextSdsSecretConfig{
			ValidationContextSdsSecretConfig: &tlsv3.SdsSecretConfig{Name: t.CASecret, SdsConfig: adsConfigSource()},
		}
	case t.WellKnownCA && len(sans) > 0:
		// Envoy refuses SAN checks unless trusted_ca is set (its
		// system_root_certs does not count), so the system bundle is
		// named by its file.
		common.ValidationContextType = &tlsv3.CommonTlsContext_ValidationContext{
			ValidationContext: &tlsv3.CertificateValidationContext{
				TrustedCa:                 &corev3.DataSource{Specifier: &corev3.DataSource_Filename{Filename: SystemCABundle}},
				MatchTypedSubjectAltNames: sans,
			},
		}
	case t.WellKnownCA:
		common.ValidationContextType = &tlsv3.CommonTlsContext_ValidationContext{
			ValidationContext: &tlsv3.CertificateValidationContext{
				SystemRootCerts: &tlsv3.CertificateValidationContext_SystemRootCerts{},
			},
		}
	case len(sans) > 0:
		return nil, fmt.Errorf("subject alternative names without a CA to verify the chain against")
	}
	a, err := toAny(&tlsv3.UpstreamTlsContext{Sni: t.SNI, CommonTlsContext: common})
	if err != nil {
		return nil, err
	}
	return &corev3.TransportSocket{Name: tlsTransportSocketName, ConfigType: &corev3.TransportSocket_TypedConfig{TypedConfig: a}}, nil
}

func tlsVersion(v string) (tlsv3.TlsParameters_TlsProtocol, error) {
	switch v {
	case "":
		return tlsv3.TlsParameters_TLS_AUTO, nil
	case "1.0":
		return tlsv3.TlsParameters_TLSv1_0, nil
	case "1.1":
		return tlsv3.TlsParameters_TLSv1_1, nil
	case "1.2":
		return tlsv3.TlsParameters_TLSv1_2, nil
	case "1.3":
		return tlsv3.TlsParameters_TLSv1_3, nil
	}
	return 0, fmt.Errorf("unsupported TLS version %q", v)
}

// subjectAltNameMatchers: a name with "://" is a URI SAN, any other a DNS
// SAN, matched exactly; Envoy lets a wildcard name in the certificate
// cover one label of an exact DNS name here.
func subjectAltNameMatchers(names []string) []*tlsv3.SubjectAltNameMatcher {
	var out []*tlsv3.SubjectAltNameMatcher
	for _, n := range names {
		typ := tlsv3.SubjectAltNameMatcher_DNS
		if strings.Contains(n, "://") {
			typ = tlsv3.SubjectAltNameMatcher_URI
		}
		out = append(out, &tlsv3.SubjectAltNameMatcher{
			SanType: typ,
			Matcher: &matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_Exact{Exact: n}},
		})
	}
	return out
}
