package xds

import (
	"fmt"
	"math"
	"regexp"
	"slices"
	"strings"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/legateproxy/legate/translators/ir"
)

// defaultRetryOn is used when the IR asks for retries without saying on
// what: "5xx" covers 5xx answers, resets, connect failures and refused
// streams.
const defaultRetryOn = "5xx"

// UnavailableCluster is the name a route uses for the share of its traffic
// that goes to an invalid backend (an IR backend with no cluster): no
// cluster has this name, and the route's cluster_not_found_response_code
// answers those requests with 500, as Gateway API requires of HTTPRoutes
// (503 for GRPCRoutes: Envoy's local reply to a gRPC request maps it to
// grpc-status UNAVAILABLE).
const UnavailableCluster = "legate/unavailable"

// routeConfiguration makes one route table holding vhosts, sorted by
// name. Route order inside a virtual host is the IR's: it is evaluation
// order.
func (b *buildRun) routeConfiguration(name string, vhosts []*ir.VirtualHost, extra ...*routev3.VirtualHost) (*RouteConfiguration, error) {
	shell := &routev3.RouteConfiguration{
		Name: name,
		// Host headers carry a port when the client used a non-default one.
		// Envoy cannot express "*.example.com with any port" as a domain
		// ("*.example.com:*" is a literal suffix), so the port is ignored
		// when Envoy picks a virtual host. The "host:*" domains are kept for
		// xDS clients that do not know this field (gRPC).
		IgnorePortInHostMatching: true,
		// Routes may name UnavailableCluster, which never exists; Envoy
		// must not refuse the table for it (it does not for RDS, but does
		// for a table given inline, unless told).
		ValidateClusters: wrapperspb.Bool(false),
	}
	sorted := append([]*ir.VirtualHost(nil), vhosts...)
	sortBy(sorted, func(vh *ir.VirtualHost) string { return vh.Name })
	kept := make([]*VirtualHost, 0, len(sorted)+len(extra))
	var last, built []*builtVirtualHost
	if b.prev != nil {
		last = b.prev.vhosts[name]
	}
	if b.next != nil {
		// Pointers, shared with the last build where a virtual host did
		// not change: a list of 10k of the structs was most of what a
		// one-route edit allocated here.
		built = make([]*builtVirtualHost, 0, len(sorted))
	}
	j := 0
	for _, vh := range sorted {
		// Both lists are sorted by name: the last build's virtual host of
		// this name, if any, is at or after j.
		for j < len(last) && last[j].name < vh.Name {
			j++
		}
		var old *builtVirtualHost
		if j < len(last) && last[j].name == vh.Name {
			old = last[j]
		}
		v, err := b.virtualHost(vh, old)
		if err != nil {
			return nil, fmt.Errorf("virtual host %s: %w", vh.Name, err)
		}
		kept = append(kept, v.kept)
		if b.next != nil {
			built = append(built, v)
		}
	}
	for _, vh := range extra {
		kept = append(kept, b.keep(vh))
	}
	if b.next != nil {
		b.next.vhosts[name] = built
	}
	return newRouteConfiguration(shell, kept), nil
}

// virtualHost builds vh, given what the last build made of the virtual
// host of the same name in the same route configuration (old, if any). A
// virtual host's proto depends on its name, hostnames and routes alone
// (TLS and Group shape the listener and which table it is in), and a
// route's on its *ir.Route alone: old is reused when the hostnames and
// the route pointers, in order, are the same; otherwise only the routes
// that are not among old's are built, the others decoded from old.
func (b *buildRun) virtualHost(vh *ir.VirtualHost, old *builtVirtualHost) (*builtVirtualHost, error) {
	if old != nil && slices.Equal(old.hostnames, vh.Hostnames) && slices.Equal(old.routes, vh.Routes) {
		return old, nil
	}
	reuse, err := old.routeMessages()
	if err != nil {
		return nil, err
	}
	out := &routev3.VirtualHost{Name: vh.Name, Domains: Domains(vh.Hostnames)}
	for _, r := range vh.Routes {
		route, ok := reuse[r]
		if !ok {
			var err error
			if route, err = buildRoute(r); err != nil {
				return nil, fmt.Errorf("route %s: %w", r.Name, err)
			}
		}
		out.Routes = append(out.Routes, route)
	}
	built := &builtVirtualHost{name: vh.Name, kept: b.keep(out)}
	if b.next != nil {
		built.hostnames, built.routes = slices.Clone(vh.Hostnames), slices.Clone(vh.Routes)
	}
	return built, nil
}

// routeMessages decodes the routes of a virtual host the last build made,
// by the IR route each was made from (none for a nil v).
func (v *builtVirtualHost) routeMessages() (map[*ir.Route]*routev3.Route, error) {
	if v == nil || len(v.routes) == 0 {
		return nil, nil
	}
	m, err := v.kept.Message()
	if err != nil {
		return nil, err
	}
	if len(m.GetRoutes()) != len(v.routes) {
		// Not what this virtual host was made from: build every route.
		return nil, nil
	}
	out := make(map[*ir.Route]*routev3.Route, len(v.routes))
	for i, r := range v.routes {
		out[r] = m.Routes[i]
	}
	return out, nil
}

// Domains returns the Envoy virtual host domains for IR hostnames: each
// exact hostname h as h and "h:*" (a Host header that carries a port), a
// wildcard "*.example.com" as itself, "*" as itself. Duplicates are dropped.
func Domains(hostnames []string) []string {
	seen := map[string]bool{}
	var out []string
	add := func(d string) {
		if !seen[d] {
			seen[d] = true
			out = append(out, d)
		}
	}
	for _, h := range hostnames {
		h = strings.ToLower(h)
		add(h)
		if !strings.HasPrefix(h, "*") {
			add(h + ":*")
		}
	}
	return out
}

func buildRoute(r *ir.Route) (*routev3.Route, error) {
	match, err := buildMatch(r.Match)
	if err != nil {
		return nil, err
	}
	out := &routev3.Route{Name: r.Name, Match: match}
	switch {
	case r.Forward != nil:
		action, err := buildRouteAction(r)
		if err != nil {
			return nil, err
		}
		out.Action = &routev3.Route_Route{Route: action}
	case r.Redirect != nil:
		redirect, err := buildRedirect(r.Redirect, r.Match.Path)
		if err != nil {
			return nil, err
		}
		out.Action = &routev3.Route_Redirect{Redirect: redirect}
	case r.DirectResponse != nil:
		dr := &routev3.DirectResponseAction{Status: uint32(r.DirectResponse.StatusCode)}
		if r.DirectResponse.Body != "" {
			dr.Body = &corev3.DataSource{Specifier: &corev3.DataSource_InlineString{InlineString: r.DirectResponse.Body}}
		}
		out.Action = &routev3.Route_DirectResponse{DirectResponse: dr}
	default:
		return nil, fmt.Errorf("no action")
	}
	md, err := annotationMetadata(r.Annotations)
	if err != nil {
		return nil, err
	}
	out.Metadata = md
	if hm := r.Filters.RequestHeaders; hm != nil {
		out.RequestHeadersToAdd = headersToAdd(hm)
		out.RequestHeadersToRemove = append([]string(nil), hm.Remove...)
	}
	if hm := r.Filters.ResponseHeaders; hm != nil {
		out.ResponseHeadersToAdd = headersToAdd(hm)
		out.ResponseHeadersToRemove = append([]string(nil), hm.Remove...)
	}
	pfc, err := perFilterConfig(r)
	if err != nil {
		return nil, err
	}
	out.TypedPerFilterConfig = pfc
	return out, nil
}

func buildMatch(m ir.Match) (*routev3.RouteMatch, error) {
	out := &routev3.RouteMatch{}
	p := m.Path
	switch p.Type {
	case ir.PathExact:
		out.PathSpecifier = &routev3.RouteMatch_Path{Path: p.Value}
	case ir.PathPrefix:
		out.PathSpecifier = &routev3.RouteMatch_Prefix{Prefix: p.Value}
	case ir.PathSegmentPrefix:
		// Envoy's path_separated_prefix must not end in "/"; "/foo/" and
		// "/foo" mean the same segments, and "/" matches every path.
		v := strings.TrimRight(p.Value, "/")
		if v == "" {
			out.PathSpecifier = &routev3.RouteMatch_Prefix{Prefix: "/"}
		} else {
			out.PathSpecifier = &routev3.RouteMatch_PathSeparatedPrefix{PathSeparatedPrefix: v}
		}
	case ir.PathRegex:
		out.PathSpecifier = &routev3.RouteMatch_SafeRegex{SafeRegex: &matcherv3.RegexMatcher{Regex: p.Value}}
	default:
		return nil, fmt.Errorf("unknown path match type %q", p.Type)
	}
	if p.CaseSensitive != nil {
		out.CaseSensitive = wrapperspb.Bool(*p.CaseSensitive)
	}
	for _, h := range m.Headers {
		hm := &routev3.HeaderMatcher{Name: h.Name, InvertMatch: h.Invert}
		if h.Type == ir.MatchPresent {
			hm.HeaderMatchSpecifier = &routev3.HeaderMatcher_PresentMatch{PresentMatch: true}
		} else {
			sm, err := stringMatcher(h.Type, h.Value)
			if err != nil {
				return nil, fmt.Errorf("header %s: %w", h.Name, err)
			}
			hm.HeaderMatchSpecifier = &routev3.HeaderMatcher_StringMatch{StringMatch: sm}
		}
		out.Headers = append(out.Headers, hm)
	}
	if m.Method != "" {
		out.Headers = append(out.Headers, &routev3.HeaderMatcher{
			Name: ":method",
			HeaderMatchSpecifier: &routev3.HeaderMatcher_StringMatch{StringMatch: &matcherv3.StringMatcher{
				MatchPattern: &matcherv3.StringMatcher_Exact{Exact: m.Method},
			}},
		})
	}
	for _, q := range m.QueryParams {
		qm := &routev3.QueryParameterMatcher{Name: q.Name}
		if q.Type == ir.MatchPresent {
			qm.QueryParameterMatchSpecifier = &routev3.QueryParameterMatcher_PresentMatch{PresentMatch: true}
		} else {
			sm, err := stringMatcher(q.Type, q.Value)
			if err != nil {
				return nil, fmt.Errorf("query parameter %s: %w", q.Name, err)
			}
			qm.QueryParameterMatchSpecifier = &routev3.QueryParameterMatcher_StringMatch{StringMatch: sm}
		}
		out.QueryParameters = append(out.QueryParameters, qm)
	}
	return out, nil
}

func stringMatcher(t ir.StringMatchType, v string) (*matcherv3.StringMatcher, error) {
	switch t {
	case ir.MatchExact:
		return &matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_Exact{Exact: v}}, nil
	case ir.MatchPrefix:
		return &matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_Prefix{Prefix: v}}, nil
	case ir.MatchRegex:
		return &matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_SafeRegex{SafeRegex: &matcherv3.RegexMatcher{Regex: v}}}, nil
	default:
		return nil, fmt.Errorf("unknown string match type %q", t)
	}
}

// buildRouteAction forwards to the route's backends and applies the filters
// that only make sense when a request is forwarded (rewrites, mirrors,
// timeout, retries).
func buildRouteAction(r *ir.Route) (*routev3.RouteAction, error) {
	backends := nonZeroBackends(r.Forward.Backends)
	if len(backends) == 0 {
		return nil, fmt.Errorf("no backends")
	}
	a := &routev3.RouteAction{}
	cluster := func(b ir.WeightedBackend) string {
		if b.Cluster == "" {
			// The share of an invalid backend: a cluster name that never
			// exists, answered with 500, or 503 where the IR asks (see
			// UnavailableCluster).
			a.ClusterNotFoundResponseCode = routev3.RouteAction_INTERNAL_SERVER_ERROR
			if r.Forward.InvalidBackendStatus == 503 {
				a.ClusterNotFoundResponseCode = routev3.RouteAction_SERVICE_UNAVAILABLE
			}
			return UnavailableCluster
		}
		return b.Cluster
	}
	// Header changes of one backend exist only on a weighted cluster entry,
	// so a single backend that has them is a weighted cluster of one.
	if len(backends) == 1 && backends[0].RequestHeaders == nil && backends[0].ResponseHeaders == nil {
		a.ClusterSpecifier = &routev3.RouteAction_Cluster{Cluster: cluster(backends[0])}
	} else {
		wc := &routev3.WeightedCluster{}
		for _, b := range backends {
			cw := &routev3.WeightedCluster_ClusterWeight{
				Name:   cluster(b),
				Weight: wrapperspb.UInt32(b.Weight),
			}
			if hm := b.RequestHeaders; hm != nil {
				cw.RequestHeadersToAdd = headersToAdd(hm)
				cw.RequestHeadersToRemove = append([]string(nil), hm.Remove...)
			}
			if hm := b.ResponseHeaders; hm != nil {
				cw.ResponseHeadersToAdd = headersToAdd(hm)
				cw.ResponseHeadersToRemove = append([]string(nil), hm.Remove...)
			}
			wc.Clusters = append(wc.Clusters, cw)
		}
		a.ClusterSpecifier = &routev3.RouteAction_WeightedClusters{WeightedClusters: wc}
	}
	f := r.Filters
	if rw := f.Rewrite; rw != nil {
		switch {
		case rw.Hostname != "":
			a.HostRewriteSpecifier = &routev3.RouteAction_HostRewriteLiteral{HostRewriteLiteral: rw.Hostname}
		case rw.AutoHostname:
			a.HostRewriteSpecifier = &routev3.RouteAction_AutoHostRewrite{AutoHostRewrite: wrapperspb.Bool(true)}
		}
		switch {
		case rw.FullPath != "":
			a.RegexRewrite = fullPathRewrite(rw.FullPath)
		case rw.PrefixReplace != "":
			a.PrefixRewrite, a.RegexRewrite = prefixRewrite(r.Match.Path, rw.PrefixReplace)
		}
	}
	for _, m := range f.Mirrors {
		a.RequestMirrorPolicies = append(a.RequestMirrorPolicies, &routev3.RouteAction_RequestMirrorPolicy{
			Cluster:         m.Cluster,
			RuntimeFraction: &corev3.RuntimeFractionalPercent{DefaultValue: percent(m.Percent)},
		})
	}
	switch {
	case f.Timeout > 0:
		a.Timeout = durationpb.New(f.Timeout)
	case f.Timeout < 0:
		// Envoy reads a zero timeout as "no timeout".
		a.Timeout = durationpb.New(0)
	}
	applyRoutePolicies(a, r)
	if rt := f.Retry; rt != nil {
		a.RetryPolicy = retryPolicy(rt)
	}
	return a, nil
}

// fullPathRewrite replaces the whole path, keeping the query string: Envoy
// applies regex_rewrite to the path without its query and re-appends the
// query afterwards, so a pattern matching the entire path swaps just the
// path. Backslashes in the substitution would be read as capture group
// references, so they are escaped.
func fullPathRewrite(path string) *matcherv3.RegexMatchAndSubstitute {
	return &matcherv3.RegexMatchAndSubstitute{
		Pattern:      &matcherv3.RegexMatcher{Regex: "^.*$"},
		Substitution: strings.ReplaceAll(path, `\`, `\\`),
	}
}

// prefixRewrite replaces the matched prefix with replacement. With a
// segment prefix match and "/" as replacement, plain prefix_rewrite would
// turn "/foo/bar" into "//bar"; a regex that also eats the slashes after the
// prefix gives "/bar" (and "/foo" becomes "/"), which is what Gateway API's
// ReplacePrefixMatch asks for.
func prefixRewrite(m ir.PathMatch, replacement string) (string, *matcherv3.RegexMatchAndSubstitute) {
	if m.Type == ir.PathSegmentPrefix && replacement == "/" {
		prefix := strings.TrimRight(m.Value, "/")
		if prefix != "" {
			return "", &matcherv3.RegexMatchAndSubstitute{
				Pattern:      &matcherv3.RegexMatcher{Regex: "^" + regexp.QuoteMeta(prefix) + "/*"},
				Substitution: "/",
			}
		}
	}
	return replacement, nil
}

// percent turns a 0-100 share into a FractionalPercent, exact to a
// millionth; zero means everything (the IR's convention for mirrors).
func percent(p float64) *typev3.FractionalPercent {
	if p <= 0 || p >= 100 {
		return &typev3.FractionalPercent{Numerator: 100, Denominator: typev3.FractionalPercent_HUNDRED}
	}
	if p == math.Trunc(p) {
		return &typev3.FractionalPercent{Numerator: uint32(p), Denominator: typev3.FractionalPercent_HUNDRED}
	}
	return &typev3.FractionalPercent{Numerator: uint32(math.Round(p * 10000)), Denominator: typev3.FractionalPercent_MILLION}
}

func buildRedirect(r *ir.Redirect, m ir.PathMatch) (*routev3.RedirectAction, error) {
	out := &routev3.RedirectAction{HostRedirect: r.Hostname, PortRedirect: r.Port}
	switch r.Scheme {
	case "":
	case "https":
		out.SchemeRewriteSpecifier = &routev3.RedirectAction_HttpsRedirect{HttpsRedirect: true}
	default:
		out.SchemeRewriteSpecifier = &routev3.RedirectAction_SchemeRedirect{SchemeRedirect: r.Scheme}
	}
	switch {
	case r.Regex != nil:
		out.PathRewriteSpecifier = &routev3.RedirectAction_RegexRewrite{RegexRewrite: regexSubstitution(r.Regex)}
	case r.Path != "":
		out.PathRewriteSpecifier = &routev3.RedirectAction_PathRedirect{PathRedirect: r.Path}
	case r.PrefixReplace != "":
		prefix, re := prefixRewrite(m, r.PrefixReplace)
		if re != nil {
			out.PathRewriteSpecifier = &routev3.RedirectAction_RegexRewrite{RegexRewrite: re}
		} else {
			out.PathRewriteSpecifier = &routev3.RedirectAction_PrefixRewrite{PrefixRewrite: prefix}
		}
	}
	switch r.StatusCode {
	case 301:
		out.ResponseCode = routev3.RedirectAction_MOVED_PERMANENTLY
	case 0, 302:
		out.ResponseCode = routev3.RedirectAction_FOUND
	case 303:
		out.ResponseCode = routev3.RedirectAction_SEE_OTHER
	case 307:
		out.ResponseCode = routev3.RedirectAction_TEMPORARY_REDIRECT
	case 308:
		out.ResponseCode = routev3.RedirectAction_PERMANENT_REDIRECT
	default:
		return nil, fmt.Errorf("redirect status %d is not one of 301, 302, 303, 307, 308", r.StatusCode)
	}
	return out, nil
}

// headersToAdd lists "set" headers (replacing any the message has) before
// "add" headers (appended to any it has).
// headerValue renders a header value for Envoy, which reads every added
// header value as a format string: a literal "%" must be doubled, or Envoy
// would take "50%" for a broken command operator and reject the route.
func headerValue(h ir.Header) string {
	if h.Format {
		return h.Value
	}
	return strings.ReplaceAll(h.Value, "%", "%%")
}

func headersToAdd(hm *ir.HeaderModifier) []*corev3.HeaderValueOption {
	var out []*corev3.HeaderValueOption
	for _, h := range hm.Set {
		out = append(out, &corev3.HeaderValueOption{
			Header:       &corev3.HeaderValue{Key: h.Name, Value: headerValue(h)},
			AppendAction: corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD,
		})
	}
	for _, h := range hm.Add {
		out = append(out, &corev3.HeaderValueOption{
			Header:       &corev3.HeaderValue{Key: h.Name, Value: headerValue(h)},
			AppendAction: corev3.HeaderValueOption_APPEND_IF_EXISTS_OR_ADD,
		})
	}
	return out
}
